// A small client of reussite, type-checked against the types generated from the OpenAPI
// document (reussite.d.ts, by openapi-typescript): a student starts an exam, submits it and
// reads the result. `make lint-openapi` fails if the document and this code disagree.
import type { components, paths } from "./reussite";

type Attempt = components["schemas"]["Attempt"];
type Problem = components["schemas"]["Problem"];
type StartPath = paths["/v1/exams/{code}/attempts"]["post"];
type SubmitPath = paths["/v1/attempts/{attempt_id}/submit"]["post"];

export async function startExam(
  base: string,
  token: string,
  code: StartPath["parameters"]["path"]["code"],
  idempotencyKey: StartPath["parameters"]["header"]["Idempotency-Key"],
): Promise<Attempt | Problem> {
  const response = await fetch(`${base}/v1/exams/${encodeURIComponent(code)}/attempts`, {
    method: "POST",
    headers: {
      Authorization: `Bearer ${token}`,
      "Content-Type": "application/json",
      "Idempotency-Key": idempotencyKey,
    },
    body: JSON.stringify({}),
  });
  return (await response.json()) as Attempt | Problem;
}

export async function submitAndRead(
  base: string,
  token: string,
  attempt: Attempt,
  answers: SubmitPath["requestBody"]["content"]["application/json"]["answers"],
): Promise<string> {
  const body: SubmitPath["requestBody"]["content"]["application/json"] = {
    attempt_token: attempt.attempt_token ?? "",
    answers,
  };
  const response = await fetch(`${base}/v1/attempts/${attempt.id}/submit`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) {
    const problem = (await response.json()) as Problem;
    return `${problem.code}: ${problem.title}`;
  }
  const graded = (await response.json()) as Attempt;
  const score: number | null | undefined = graded.score;
  return `${graded.status}: ${score ?? "-"} %, passed: ${graded.passed ?? false}`;
}
