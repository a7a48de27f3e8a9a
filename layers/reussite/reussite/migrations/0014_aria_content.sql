-- The school's first pedagogical content for ARIA: short course notes by subject and level
-- (the questionnaire's level codes), which staff edit and extend through the API.
INSERT INTO pedagogical_content (subject, school_level, title, body) VALUES
('NSI', '2e-secondaire', 'Le tri à bulles',
'Le **tri à bulles** parcourt la liste en comparant chaque élément à son voisin et les échange
s''ils sont dans le mauvais ordre. Après le premier passage, le plus grand élément est à la fin :
il est « remonté » comme une bulle. On recommence sur la partie non triée.

```python
def tri_bulles(t):
    n = len(t)
    for i in range(n - 1):
        for j in range(n - 1 - i):
            if t[j] > t[j + 1]:
                t[j], t[j + 1] = t[j + 1], t[j]
    return t
```

Coût : dans le pire des cas n(n-1)/2 comparaisons, soit un algorithme **quadratique**, O(n²).
Exemple à dérouler à la main : [5, 1, 4, 2].'),
('NSI', '2e-secondaire', 'Le tri par sélection',
'Le **tri par sélection** cherche le plus petit élément de la partie non triée et le place au
début, puis recommence. Il fait toujours n(n-1)/2 comparaisons (O(n²)) mais au plus n-1
échanges. Invariant de boucle : après l''étape i, les i premiers éléments sont triés et à leur
place définitive.'),
('NSI', '2e-secondaire', 'Le tri par insertion',
'Le **tri par insertion** insère chaque élément à sa place dans la partie déjà triée, comme on
range des cartes dans sa main. Coût O(n²) dans le pire des cas, mais O(n) si la liste est déjà
presque triée.'),
('NSI', 'bac', 'Le tri fusion',
'Le **tri fusion** applique « diviser pour régner » : on coupe la liste en deux, on trie chaque
moitié récursivement, puis on fusionne deux listes triées. Coût O(n log n), y compris dans le
pire des cas. La fusion compare les têtes des deux listes et prend la plus petite.'),
('NSI', 'bac', 'La récursivité',
'Une fonction **récursive** s''appelle elle-même sur un problème plus petit. Il faut un **cas de
base** qui s''arrête sans appel récursif, sinon la pile d''appels déborde. Exemple : la
factorielle, n! = n × (n-1)! avec 0! = 1.'),
('MATHEMATIQUES', '9e', 'Le théorème de Pythagore',
'Dans un triangle **rectangle**, le carré de l''hypoténuse est égal à la somme des carrés des
deux autres côtés : BC² = AB² + AC². Réciproque : si l''égalité est vraie, le triangle est
rectangle. Exemple : côtés 3, 4 et 5.'),
('MATHEMATIQUES', '9e', 'Les fractions : simplifier et comparer',
'Pour **simplifier** une fraction, on divise numérateur et dénominateur par leur plus grand
diviseur commun : 18/24 = 3/4. Pour **comparer** deux fractions, on les met au même
dénominateur.'),
('MATHEMATIQUES', 'bac', 'La dérivée et les variations d''une fonction',
'Si la **dérivée** f''(x) est positive sur un intervalle, f est croissante sur cet intervalle ;
si elle est négative, f est décroissante. On étudie le signe de f''(x) dans un tableau de
variations. Dérivées usuelles : (x²)'' = 2x, (eˣ)'' = eˣ, (ln x)'' = 1/x.'),
('MATHEMATIQUES', 'bac', 'Les suites arithmétiques et géométriques',
'Une suite **arithmétique** ajoute toujours la même raison r : uₙ = u₀ + n r. Une suite
**géométrique** multiplie par la même raison q : uₙ = u₀ × qⁿ. Somme des termes d''une suite
géométrique : u₀ (1 - qⁿ⁺¹) / (1 - q).'),
('PHYSIQUE_CHIMIE', '2e-secondaire', 'La loi d''Ohm',
'La **loi d''Ohm** relie la tension aux bornes d''un conducteur ohmique à l''intensité qui le
traverse : U = R × I (U en volts, R en ohms, I en ampères). La caractéristique U(I) est une
droite passant par l''origine.'),
('PHYSIQUE_CHIMIE', 'bac', 'Les lois de Newton',
'Première loi (principe d''inertie) : un corps soumis à des forces qui se compensent est immobile
ou en mouvement rectiligne uniforme. Deuxième loi : ΣF = m × a. Troisième loi : actions
réciproques, deux forces égales et opposées.'),
('FRANCAIS', 'bac', 'Le commentaire de texte',
'Le **commentaire** s''organise en une introduction (présentation, problématique, annonce du
plan), deux ou trois parties argumentées appuyées sur des citations analysées (procédés, effets)
et une conclusion qui répond à la problématique et ouvre.'),
('FRANCAIS', '9e', 'Les figures de style',
'La **métaphore** rapproche deux réalités sans outil de comparaison ; la **comparaison** utilise
« comme », « tel » ; la **personnification** prête des traits humains à une chose ;
l''**hyperbole** exagère pour frapper.'),
('PHILOSOPHIE', 'bac', 'La dissertation de philosophie',
'La **dissertation** part d''une question : on en définit les termes, on dégage le problème
(pourquoi la réponse ne va pas de soi), puis on construit un plan progressif (thèse,
objection, dépassement) appuyé sur des auteurs et des exemples.');
