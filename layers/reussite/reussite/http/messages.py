# ruff: noqa: E501, RUF001 (one line per code; Arabic letters are meant)
"""Problem titles in French and Arabic, per stable `code` (English is the code's own title).
A test checks every code the API can answer has both."""

from __future__ import annotations

TITLES: dict[str, tuple[str, str]] = {
    "NOT_A_COACH": (
        "Cet identifiant appartient à quelqu'un qui n'est pas coach",
        "هذا الحساب لشخص ليس مدرّبًا",
    ),
    "ROOM_CLOSED": (
        "La salle est fermée : la séance est terminée ou annulée",
        "القاعة مغلقة: انتهت الحصة أو أُلغيت",
    ),
    "ROOM_NOT_FOUND": ("Ce lien de salle n'est pas valide", "رابط القاعة هذا غير صالح"),
    "ROOM_NOT_OPEN": ("La salle n'est pas encore ouverte", "القاعة لم تُفتح بعد"),
    "CREDITS_NOT_ACCEPTED": (
        "Ce service se paie en argent, pas en crédits",
        "تُدفع هذه الخدمة نقدًا وليس بالرصيد",
    ),
    "PAYMENT_METHOD_REQUIRED": (
        "Indiquez comment ce service est payé : pay_with (konnect, wise ou credits)",
        "حدّدوا طريقة دفع هذه الخدمة: pay_with (konnect أو wise أو credits)",
    ),
    "REFUND_ALREADY_MADE": (
        "Ce remboursement a déjà été enregistré comme effectué",
        "سُجّل هذا الاسترداد مسبقًا كمنجز",
    ),
    "REFUND_NOT_FOUND": ("Remboursement introuvable", "الاسترداد غير موجود"),
    "REGISTRATION_NOT_CONFIRMED": (
        "Cette inscription n'est pas confirmée : paiement en attente ou inscription annulée",
        "هذا التسجيل غير مؤكد: الدفع معلّق أو التسجيل ملغى",
    ),
    "SERVICE_NOT_OFFERED": (
        "Cette certification ne propose pas ce service",
        "هذه الشهادة لا تقدّم هذه الخدمة",
    ),
    "SESSION_NOT_HELD": (
        "Les résultats s'enregistrent une fois la session passée",
        "تُسجَّل النتائج بعد انعقاد الدورة",
    ),
    "ALREADY_CANCELLED": ("Cette séance est déjà annulée", "هذه الحصة ملغاة مسبقًا"),
    "ALREADY_REGISTERED": (
        "Cet élève est déjà inscrit à cette session",
        "هذا التلميذ مسجل مسبقًا في هذه الدورة",
    ),
    "ALREADY_SUBMITTED": (
        "Cette tentative a déjà été rendue avec d'autres réponses",
        "سبق تقديم هذه المحاولة بإجابات أخرى",
    ),
    "ARIA_SUBJECTS_INVALID": (
        "Ces matières ARIA ne correspondent pas à la formule",
        "مواد ARIA هذه لا تتوافق مع الباقة",
    ),
    "ATTEMPT_IN_PROGRESS": (
        "Une tentative de cet examen est déjà ouverte ; la voici",
        "توجد محاولة مفتوحة لهذا الامتحان؛ ها هي",
    ),
    "ATTEMPT_NOT_FOUND": ("Tentative introuvable", "المحاولة غير موجودة"),
    "ATTEMPT_TOKEN_INVALID": (
        "Le jeton ne correspond pas à cette tentative",
        "الرمز لا يطابق هذه المحاولة",
    ),
    "BAD_CURSOR": (
        "Ce curseur n'appartient pas à cette liste, ou a été modifié",
        "هذا المؤشر لا ينتمي إلى هذه القائمة أو تم تعديله",
    ),
    "BAD_REQUEST": ("La requête est mal formée", "الطلب غير صحيح الصياغة"),
    "BILAN_LIMIT_REACHED": (
        "Un bilan d'orientation par élève et par an : le dernier a moins d'un an",
        "تقرير توجيه واحد لكل تلميذ في السنة: آخر تقرير عمره أقل من سنة",
    ),
    "BILAN_NOT_FOUND": ("Bilan d'orientation introuvable", "تقرير التوجيه غير موجود"),
    "BOOKING_NOT_FOUND": ("Séance de tutorat introuvable", "حصة الدعم غير موجودة"),
    "CERTIFICATE_NOT_FOUND": (
        "Aucun certificat ne porte ce code de vérification",
        "لا توجد شهادة بهذا الرمز",
    ),
    "CHECKOUT_IN_PROGRESS": (
        "Le paiement est en cours d'ouverture chez le prestataire ; réessayez dans quelques secondes",
        "يجري فتح الدفع لدى مزود الخدمة؛ أعيدوا المحاولة بعد ثوانٍ",
    ),
    "COACH_NOT_FOUND": ("Coach introuvable", "المدرب غير موجود"),
    "CONFLICT": ("La requête est en conflit avec l'état actuel", "الطلب يتعارض مع الوضع الحالي"),
    "CONSENT_REQUIRED": (
        "Nous ne gardons un email qu'avec le consentement de son titulaire",
        "لا نحتفظ بالبريد الإلكتروني إلا بموافقة صاحبه",
    ),
    "CONTENT_NOT_FOUND": ("Contenu pédagogique introuvable", "المحتوى البيداغوجي غير موجود"),
    "CONVERSATION_FULL": (
        "Cette conversation est assez longue ; commencez-en une nouvelle",
        "هذه المحادثة طويلة بما يكفي؛ ابدؤوا محادثة جديدة",
    ),
    "CONVERSATION_NOT_FOUND": ("Conversation introuvable", "المحادثة غير موجودة"),
    "COURSE_NOT_FOUND": ("Session de cours introuvable", "دورة الدروس غير موجودة"),
    "DAILY_QUOTA_EXCEEDED": (
        "Les messages ARIA du jour sont épuisés ; d'autres demain",
        "نفدت رسائل ARIA لهذا اليوم؛ المزيد غدًا",
    ),
    "DEADLINE_PASSED": (
        "Le temps de l'examen est écoulé ; ces réponses ne sont pas comptées",
        "انتهى وقت الامتحان؛ لم تُحتسب هذه الإجابات",
    ),
    "DOMAIN_ERROR": ("La requête ne peut pas être exécutée", "لا يمكن تنفيذ الطلب"),
    "DEPENDENCY_UNAVAILABLE": (
        "Un service dont dépend reussite est indisponible ; réessayez",
        "خدمة يعتمد عليها reussite غير متاحة؛ أعيدوا المحاولة",
    ),
    "ENQUIRY_NOT_ALLOWED": (
        "Aucune demande de révision n'est possible pour cette session maintenant",
        "لا يمكن تقديم طلب مراجعة لهذه الدورة الآن",
    ),
    "ENQUIRY_NOT_FOUND": ("Demande de révision introuvable", "طلب المراجعة غير موجود"),
    "ENQUIRY_STATE": (
        "L'état de la demande de révision ne le permet pas",
        "حالة طلب المراجعة لا تسمح بذلك",
    ),
    "EXAM_NOT_FOUND": ("Examen introuvable", "الامتحان غير موجود"),
    "FEATURE_DISABLED": (
        "Cette fonctionnalité ne vous est pas encore ouverte",
        "هذه الميزة غير متاحة لكم بعد",
    ),
    "FORBIDDEN": ("Votre rôle ne le permet pas", "دوركم لا يسمح بذلك"),
    "GENERATOR_NOT_FOUND": ("Générateur d'exercices introuvable", "مولد التمارين غير موجود"),
    "HTTP_ERROR": ("La requête n'a pas abouti", "لم ينجح الطلب"),
    "IDEMPOTENCY_KEY_REQUIRED": (
        "Cette requête demande un en-tête Idempotency-Key",
        "هذا الطلب يتطلب ترويسة Idempotency-Key",
    ),
    "IDEMPOTENCY_KEY_REUSED": (
        "Cette Idempotency-Key a déjà servi pour une autre requête",
        "استُعمل مفتاح Idempotency-Key هذا لطلب مختلف",
    ),
    "INSUFFICIENT_CREDITS": ("Pas assez de crédits valides", "الرصيد الصالح غير كافٍ"),
    "INTERNAL_ERROR": ("Une erreur s'est produite de notre côté", "حدث خطأ من جهتنا"),
    "INVALID_DATES": ("Les dates ne sont pas dans l'ordre", "التواريخ ليست مرتبة"),
    "INVALID_EMAIL": ("Ce n'est pas une adresse email", "هذا ليس عنوان بريد إلكتروني"),
    "INVALID_SCORES": (
        "Les notes ne correspondent pas aux épreuves passées",
        "العلامات لا تطابق الاختبارات المجتازة",
    ),
    "INVALID_SLOT": ("Le créneau doit commencer dans le futur", "يجب أن يبدأ الموعد في المستقبل"),
    "INVITATION_INVALID": (
        "Ce code d'invitation est inconnu, expiré ou déjà utilisé",
        "رمز الدعوة هذا غير معروف أو منتهٍ أو مستعمل",
    ),
    "LEAD_NOT_FOUND": ("Contact introuvable", "جهة الاتصال غير موجودة"),
    "LINK_CODE_INVALID": (
        "Ce code de liaison est inconnu, expiré ou déjà utilisé",
        "رمز الربط هذا غير معروف أو منتهٍ أو مستعمل",
    ),
    "LINK_CONFLICT": (
        "Votre propre profil élève a déjà de l'activité et ne peut être remplacé",
        "ملفكم التلميذي فيه نشاط ولا يمكن استبداله",
    ),
    "LINK_REFUSED": (
        "Ce lien a expiré ou n'est pas valide ; connectez-vous",
        "انتهت صلاحية هذا الرابط أو هو غير صالح؛ سجلوا الدخول",
    ),
    "MESSAGE_NOT_FOUND": ("Message d'ARIA introuvable", "رسالة ARIA غير موجودة"),
    "METHOD_NOT_ALLOWED": ("Cette méthode n'est pas permise ici", "هذه الطريقة غير مسموح بها هنا"),
    "NOT_A_BANK_TRANSFER": (
        "Cette commande n'est pas payée par virement",
        "هذا الطلب ليس مدفوعًا بتحويل بنكي",
    ),
    "NOT_ACCEPTABLE": ("Aucune représentation acceptable", "لا يوجد تمثيل مقبول"),
    "NOT_ELIGIBLE": ("Non éligible", "غير مؤهل"),
    "NOT_FOUND": ("Ressource introuvable", "المورد غير موجود"),
    "NO_SESSION_AVAILABLE": (
        "Aucune session avec une place libre n'est ouverte aux inscriptions",
        "لا توجد دورة بمقعد شاغر مفتوحة للتسجيل",
    ),
    "ORDER_NOT_FOUND": ("Commande introuvable", "الطلب غير موجود"),
    "PAYLOAD_TOO_LARGE": ("La requête est trop volumineuse", "الطلب كبير جدًا"),
    "PAYMENT_ALREADY_CONFIRMED": ("Cette commande est déjà payée", "هذا الطلب مدفوع مسبقًا"),
    "PAYMENT_NOT_FOUND": ("Aucun paiement ne porte cette référence", "لا يوجد دفع بهذا المرجع"),
    "PLAN_NOT_FOUND": ("Formule introuvable", "الباقة غير موجودة"),
    "POOL_NOT_FOUND": ("Banque de questions introuvable", "بنك الأسئلة غير موجود"),
    "POOL_TOO_SMALL": (
        "La banque a moins de questions publiées que l'examen n'en tire",
        "في البنك أسئلة منشورة أقل مما يسحبه الامتحان",
    ),
    "QUESTION_NOT_FOUND": (
        "Question introuvable dans cette banque",
        "السؤال غير موجود في هذا البنك",
    ),
    "NOTHING_TO_PUBLISH": ("Il n'y a pas de brouillon à publier", "لا توجد مسودة للنشر"),
    "IMPORT_FAILED": (
        "Le fichier n'a pas pu être importé ; rien n'a été importé",
        "تعذر استيراد الملف؛ لم يُستورد أي شيء",
    ),
    "ATTEMPT_CLOSED": (
        "Cette tentative est close ; ses réponses ne changent plus",
        "أُغلقت هذه المحاولة؛ لم تعد إجاباتها تتغير",
    ),
    "REVIEW_NOT_AVAILABLE": (
        "La correction de cet examen n'est pas disponible",
        "تصحيح هذا الامتحان غير متاح",
    ),
    "PREMIUM_REQUIRED": ("Il faut une offre supérieure", "يلزم عرض أعلى"),
    "PROCTOR_NOT_FOUND": (
        "Le surveillant doit être un coach ou un membre de l'équipe",
        "يجب أن يكون المراقب مدربًا أو عضوًا في الفريق",
    ),
    "PROVIDER_ERROR": ("Le prestataire de paiement a refusé la requête", "رفض مزود الدفع الطلب"),
    "PROVIDER_NOT_CONFIGURED": (
        "Ce moyen de paiement n'est pas configuré",
        "وسيلة الدفع هذه غير مهيأة",
    ),
    "PROVIDER_UNAVAILABLE": (
        "Le prestataire de paiement est injoignable ; réessayez bientôt",
        "تعذر الوصول إلى مزود الدفع؛ أعيدوا المحاولة قريبًا",
    ),
    "QUALIFICATION_NOT_FOUND": ("Qualification introuvable", "المؤهل غير موجود"),
    "RATE_LIMITED": ("Trop de messages ; patientez un peu", "رسائل كثيرة جدًا؛ انتظروا قليلًا"),
    "RECEIPT_NOT_FOUND": (
        "Cette commande n'a pas de reçu : elle n'est pas payée",
        "لا يوجد إيصال لهذا الطلب: لم يُدفع",
    ),
    "REGISTRATION_CLOSED": (
        "Les inscriptions à cette session sont closes",
        "أُغلق التسجيل في هذه الدورة",
    ),
    "REGISTRATION_NOT_ALLOWED": (
        "Cet élève ne peut pas s'inscrire à cette session",
        "لا يمكن لهذا التلميذ التسجيل في هذه الدورة",
    ),
    "REGISTRATION_NOT_FOUND": ("Inscription introuvable", "التسجيل غير موجود"),
    "REQUEST_IN_PROGRESS": (
        "La première requête avec cette Idempotency-Key est en cours ; réessayez bientôt",
        "الطلب الأول بهذا المفتاح قيد التنفيذ؛ أعيدوا المحاولة قريبًا",
    ),
    "RESULTS_ALREADY_ENTERED": (
        "Cette session a déjà ses résultats ; modifiez-les par une demande de révision",
        "لهذه الدورة نتائج مسجلة؛ غيروها عبر طلب مراجعة",
    ),
    "SERVICE_NOT_FOUND": ("Service de tutorat introuvable", "خدمة الدعم غير موجودة"),
    "SESSION_FULL": ("Cette session n'a plus de place", "لم يبق مقعد في هذه الدورة"),
    "SESSION_NOT_FOUND": ("Session d'examen introuvable", "دورة الامتحان غير موجودة"),
    "SESSION_NOT_OPEN": (
        "Ce n'est pas possible à ce stade de la session",
        "هذا غير ممكن في هذه المرحلة من الدورة",
    ),
    "SLOT_TAKEN": ("Le coach a déjà une séance à cette heure", "للمدرب حصة في هذا الوقت"),
    "SLOT_UNAVAILABLE": ("Le coach ne propose pas ce créneau", "المدرب لا يقترح هذا الموعد"),
    "SPEND_NOT_FOUND": (
        "Aucune dépense de ce portefeuille ne correspond",
        "لا يوجد إنفاق مطابق في هذه المحفظة",
    ),
    "STUDENT_ALREADY_LINKED": (
        "Ce profil élève a déjà son propre identifiant",
        "لملف التلميذ هذا حساب دخول خاص به",
    ),
    "STUDENT_NOT_FOUND": ("Élève introuvable", "التلميذ غير موجود"),
    "SUBJECT_NOT_INCLUDED": (
        "Cette matière n'est pas incluse dans l'abonnement de l'élève",
        "هذه المادة غير مشمولة في اشتراك التلميذ",
    ),
    "SUBSCRIPTION_ACTIVE": (
        "La formule de cet élève est déjà payée pour sa prochaine période",
        "باقة هذا التلميذ مدفوعة مسبقًا للفترة القادمة",
    ),
    "SUBSCRIPTION_ENDED": (
        "Cet abonnement est terminé : réabonnez-vous",
        "انتهى هذا الاشتراك: اشتركوا من جديد",
    ),
    "SUBSCRIPTION_NOT_FOUND": ("Abonnement introuvable", "الاشتراك غير موجود"),
    "TOO_MANY_REQUESTS": ("Trop de requêtes ; patientez un peu", "طلبات كثيرة جدًا؛ انتظروا قليلًا"),
    "TRANSFER_ALREADY_USED": (
        "Ce virement a déjà payé une autre commande",
        "هذا التحويل دفع طلبًا آخر",
    ),
    "TRANSFER_AMOUNT_MISMATCH": (
        "Le montant reçu ne correspond pas à la commande",
        "المبلغ المستلم لا يطابق الطلب",
    ),
    "TUTOR_TIMEOUT": (
        "ARIA a mis trop de temps à répondre ; réessayez",
        "استغرق ARIA وقتًا طويلًا للرد؛ أعيدوا المحاولة",
    ),
    "TUTOR_UNAVAILABLE": (
        "ARIA n'a pas pu répondre pour l'instant ; réessayez dans un moment",
        "تعذر على ARIA الرد الآن؛ أعيدوا المحاولة بعد قليل",
    ),
    "UNAUTHENTICATED": ("Un jeton bearer valide est nécessaire", "يلزم رمز دخول صالح"),
    "UNKNOWN_PRODUCT": ("Produit inconnu ou hors vente", "منتج غير معروف أو غير معروض للبيع"),
    "UNKNOWN_QUESTIONS": (
        "Les réponses nomment des questions que cette tentative ne pose pas",
        "الإجابات تذكر أسئلة لا تطرحها هذه المحاولة",
    ),
    "UNKNOWN_ROLE": (
        "Le jeton porte un rôle que reussite ne connaît pas",
        "الرمز يحمل دورًا لا يعرفه reussite",
    ),
    "UNSUPPORTED_MEDIA_TYPE": ("Ce type de contenu n'est pas accepté", "نوع المحتوى هذا غير مقبول"),
    "UNTRUSTED_ROLE_CLAIM": (
        "Le rôle du jeton vient d'un attribut modifiable par l'utilisateur ; reussite ne s'y fie pas",
        "دور الرمز يأتي من خاصية يمكن للمستخدم تعديلها؛ لا يثق بها reussite",
    ),
    "VALIDATION_FAILED": ("La requête n'est pas valide", "الطلب غير صالح"),
    "WEBHOOK_NOT_FOUND": (
        "Point de réception ou livraison introuvable",
        "نقطة الاستقبال أو التسليم غير موجودة",
    ),
    "WEBHOOK_URL_REFUSED": (
        "Les événements ne sont envoyés qu'à des URL https d'hôtes publics",
        "لا تُرسل الأحداث إلا إلى عناوين https لخوادم عامة",
    ),
    "WIDGET_SESSION_NOT_FOUND": (
        "Session du widget introuvable ; recommencez",
        "جلسة الأداة غير موجودة؛ ابدؤوا من جديد",
    ),
}
