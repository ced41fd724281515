package portal

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/semnat/semnat/portal/application"
	"github.com/semnat/semnat/portal/catalog"
)

// Every word the portal's pages and documents show, Romanian first (the
// default), then Russian and English; a text missing in ru or en is shown
// in Romanian. Moving them to the shared i18n package is mechanical: one
// message id per key.
var texts = map[string]map[string]string{
	"ro": {
		"Portal": "Portalul serviciilor publice", "Lang": "Limba", "Login": "Autentificare cu MPass", "Logout": "Ieșire",
		"MyApps": "Cererile mele", "Search": "Caută", "SearchHint": "Căutați un serviciu (de ex. cazier, înmatriculare)",
		"Domains": "Domenii", "Providers": "Prestatori", "AllServices": "Toate serviciile", "Results": "Servicii găsite",
		"NoResults": "Niciun serviciu nu corespunde căutării.", "Cost": "Cost", "Free": "Gratuit", "Duration": "Termen",
		"Days": "zile lucrătoare", "Provider": "Prestator", "Domain": "Domeniu", "Documents": "Documente necesare",
		"NoDocuments": "Nu sunt necesare documente.", "Apply": "Solicită serviciul online", "OnBehalfOf": "Cine poate solicita",
		"Delivery": "Modul de primire", "PaidUnavailable": "Plata online nu este încă disponibilă pe acest portal: serviciile cu plată nu pot fi solicitate deocamdată.",
		"SignPDF": "Semnează un PDF", "VerifyPDF": "Verifică o semnătură",
		"Step1": "Solicitantul", "Step2": "Formularul", "Step3": "Documentele", "Step4": "Primirea", "Step5": "Confirmarea",
		"ForWhom": "Pentru cine solicitați?", "self": "Pentru mine", "person": "Pentru altă persoană (cu procură MPower)",
		"company": "Pentru o companie (administrator sau cu procură MPower)", "BeneficiaryIDN": "IDNP sau IDNO al beneficiarului",
		"BeneficiaryName": "Numele beneficiarului", "Continue": "Continuă", "Back": "Înapoi",
		"Applicant": "Solicitant", "Beneficiary": "Beneficiar", "Basis": "Temei", "basis-self": "în nume propriu",
		"basis-administrator": "administrator al companiei", "basis-power": "procură MPower nr.",
		"Attach": "Atașează", "AttachHint": "PDF, PNG sau JPEG, cel mult", "Attached": "Documente atașate", "Remove": "Șterge",
		"OtherDocument": "Alt document",
		"mcabinet":      "Electronic, în MCabinet", "pickup": "La ghișeul prestatorului", "courier": "Prin curier",
		"Address": "Adresa de livrare", "Confirm": "Verificați cererea", "SignSubmit": "Semnează cererea cu MSign",
		"SignNote": "Veți fi trimis la MSign pentru a semna cererea cu semnătura mobilă sau cu tokenul USB; apoi reveniți aici.",
		"Status":   "Starea cererii", "History": "Istoric", "Number": "Numărul cererii", "Service": "Serviciul",
		"Created": "Creată", "Download": "Descarcă cererea semnată", "Cancel": "Anulează cererea",
		"Pay": "Plătește", "PayNote": "Cererea este semnată; achitați taxa pentru a fi examinată.",
		"Receipt": "Cererea a fost depusă", "ReceiptNote": "Păstrați numărul cererii; starea ei se vede oricând pe această pagină.",
		"NoApps": "Nu aveți încă nicio cerere.", "Resume": "Continuă completarea", "Error": "Eroare", "Home": "Pagina principală",
		"FormErrors": "Corectați câmpurile marcate.", "Required": "obligatoriu", "Lei": "lei",
		"draft": "Ciornă", "submitted": "Depusă", "paid": "Achitată", "in-progress": "În examinare", "completed": "Finalizată",
		"rejected": "Respinsă", "cancelled": "Anulată",
		"by-applicant": "anulată de solicitant", "payment-timeout": "neachitată la timp", "documents-incomplete": "documente incomplete", "refused": "refuz",
		"p-required": "Câmpul este obligatoriu.", "p-too-long": "Cel mult %s caractere.", "p-idnp": "IDNP nevalid (13 cifre, cifra de control).",
		"p-idno": "IDNO nevalid (13 cifre, cifra de control).", "p-idn": "Nici IDNP, nici IDNO valid.", "p-date": "Data trebuie scrisă AAAA-LL-ZZ.",
		"p-past": "Data nu poate fi în viitor.", "p-future": "Data nu poate fi în trecut.", "p-min": "Cel puțin %s.", "p-max": "Cel mult %s.",
		"p-number": "Un număr întreg.", "p-option": "Alegeți una din variante.", "p-email": "Adresă de e-mail nevalidă.",
		"p-phone": "Telefon: +373 sau 0 și 8 cifre.", "p-pattern": "Valoarea nu are forma cerută.", "p-text": "Caractere nepermise.",
		"e-not-allowed": "Acest serviciu nu poate fi solicitat astfel.", "e-bad-idnp": "IDNP-ul beneficiarului nu este valid.",
		"e-bad-idno": "IDNO-ul companiei nu este valid.", "e-no-power": "Nu aveți o procură valabilă în MPower pentru acest serviciu din partea beneficiarului și nici nu sunteți administratorul companiei.",
		"e-no-mpower": "Verificarea procurilor (MPower) nu este disponibilă acum.", "e-self": "Pentru dumneavoastră alegeți „Pentru mine”.",
		"e-file-type": "Fișierul nu este un PDF, PNG sau JPEG (conținutul nu corespunde).", "e-file-size": "Fișierul depășește limita de mărime.",
		"e-file-count": "S-a atins numărul maxim de documente.", "e-file-empty": "Alegeți un fișier.", "e-delivery": "Alegeți un mod de primire.",
		"e-address": "Scrieți adresa de livrare.", "e-no-msign": "Semnarea (MSign) nu este disponibilă acum.",
		"e-not-signed": "Cererea nu a fost semnată:", "e-paid": "Plata online nu este încă disponibilă: serviciul nu poate fi solicitat.",
		"e-name":   "Scrieți numele beneficiarului.",
		"DocTitle": "CERERE", "DocDate": "Data", "DocData": "Datele cererii", "DocAttachments": "Documente anexate",
		"DocNone": "nu sunt", "DocDelivery": "Modul de primire", "DocStatement": "Semnând această cerere, confirm că datele de mai sus sunt corecte și complete.",
	},
	"ru": {
		"Portal": "Портал государственных услуг", "Lang": "Язык", "Login": "Войти через MPass", "Logout": "Выход",
		"MyApps": "Мои заявления", "Search": "Найти", "SearchHint": "Найдите услугу (например, судимость, регистрация)",
		"Domains": "Сферы", "Providers": "Поставщики", "AllServices": "Все услуги", "Results": "Найденные услуги",
		"NoResults": "Ни одна услуга не соответствует запросу.", "Cost": "Стоимость", "Free": "Бесплатно", "Duration": "Срок",
		"Days": "рабочих дней", "Provider": "Поставщик", "Domain": "Сфера", "Documents": "Необходимые документы",
		"NoDocuments": "Документы не требуются.", "Apply": "Подать заявление онлайн", "OnBehalfOf": "Кто может подать",
		"Delivery": "Способ получения", "PaidUnavailable": "Онлайн-оплата на портале пока недоступна: платные услуги пока нельзя заказать.",
		"Step1": "Заявитель", "Step2": "Форма", "Step3": "Документы", "Step4": "Получение", "Step5": "Подтверждение",
		"ForWhom": "Для кого вы подаёте заявление?", "self": "Для себя", "person": "Для другого лица (по доверенности MPower)",
		"company": "Для компании (администратор или по доверенности MPower)", "Continue": "Продолжить", "Back": "Назад",
		"Applicant": "Заявитель", "Beneficiary": "Бенефициар", "Status": "Статус заявления", "History": "История",
		"Number": "Номер заявления", "Service": "Услуга", "SignSubmit": "Подписать заявление в MSign", "Lei": "леев",
		"draft": "Черновик", "submitted": "Подано", "paid": "Оплачено", "in-progress": "На рассмотрении", "completed": "Завершено",
		"rejected": "Отклонено", "cancelled": "Отменено", "p-required": "Обязательное поле.", "p-idnp": "Неверный IDNP.",
		"DocTitle": "ЗАЯВЛЕНИЕ", "DocDate": "Дата", "DocData": "Данные заявления", "DocAttachments": "Приложенные документы",
		"DocDelivery": "Способ получения", "DocStatement": "Подписывая это заявление, подтверждаю, что приведённые выше данные верны и полны.",
		"SignPDF": "Подписать PDF", "VerifyPDF": "Проверить подпись", "BeneficiaryIDN": "IDNP или IDNO бенефициара",
		"BeneficiaryName": "Имя бенефициара", "Basis": "Основание", "basis-self": "от своего имени",
		"basis-administrator": "администратор компании", "basis-power": "доверенность MPower №",
		"Attach": "Приложить", "AttachHint": "PDF, PNG или JPEG, не более", "Attached": "Приложенные документы", "Remove": "Удалить",
		"OtherDocument": "Другой документ", "mcabinet": "Электронно, в MCabinet", "pickup": "В окне поставщика", "courier": "Курьером",
		"Address": "Адрес доставки", "Confirm": "Проверьте заявление",
		"SignNote": "Вы перейдёте в MSign, чтобы подписать заявление мобильной подписью или USB-токеном; затем вернётесь сюда.",
		"Created":  "Создано", "Download": "Скачать подписанное заявление", "Cancel": "Отменить заявление", "Pay": "Оплатить",
		"PayNote": "Заявление подписано; оплатите сбор, чтобы его рассмотрели.", "Receipt": "Заявление подано",
		"ReceiptNote": "Сохраните номер заявления; его статус всегда виден на этой странице.", "NoApps": "У вас пока нет заявлений.",
		"Resume": "Продолжить заполнение", "Error": "Ошибка", "Home": "Главная страница", "FormErrors": "Исправьте отмеченные поля.",
		"Required": "обязательно", "by-applicant": "отменено заявителем", "payment-timeout": "не оплачено вовремя",
		"documents-incomplete": "неполные документы", "refused": "отказ",
		"p-too-long": "Не более %s символов.", "p-idno": "Неверный IDNO (13 цифр, контрольная цифра).", "p-idn": "Ни IDNP, ни IDNO не верен.",
		"p-date": "Дата в формате ГГГГ-ММ-ДД.", "p-past": "Дата не может быть в будущем.", "p-future": "Дата не может быть в прошлом.",
		"p-min": "Не менее %s.", "p-max": "Не более %s.", "p-number": "Целое число.", "p-option": "Выберите один из вариантов.",
		"p-email": "Неверный адрес e-mail.", "p-phone": "Телефон: +373 или 0 и 8 цифр.", "p-pattern": "Значение не соответствует формату.",
		"p-text": "Недопустимые символы.", "e-not-allowed": "Эту услугу нельзя заказать таким образом.", "e-bad-idnp": "IDNP бенефициара неверен.",
		"e-bad-idno": "IDNO компании неверен.", "e-no-power": "У вас нет действующей доверенности MPower от бенефициара на эту услугу, и вы не администратор компании.",
		"e-no-mpower": "Проверка доверенностей (MPower) сейчас недоступна.", "e-self": "Для себя выберите «Для себя».",
		"e-file-type": "Файл не является PDF, PNG или JPEG (содержимое не соответствует).", "e-file-size": "Файл превышает допустимый размер.",
		"e-file-count": "Достигнуто максимальное число документов.", "e-file-empty": "Выберите файл.", "e-delivery": "Выберите способ получения.",
		"e-address": "Укажите адрес доставки.", "e-no-msign": "Подписание (MSign) сейчас недоступно.", "e-not-signed": "Заявление не подписано:",
		"e-paid": "Онлайн-оплата пока недоступна: услугу нельзя заказать.", "e-name": "Укажите имя бенефициара.", "DocNone": "нет",
	},
	"en": {
		"Portal": "Public services portal", "Lang": "Language", "Login": "Log in with MPass", "Logout": "Log out",
		"MyApps": "My applications", "Search": "Search", "SearchHint": "Search for a service (e.g. criminal record, registration)",
		"Domains": "Domains", "Providers": "Providers", "AllServices": "All services", "Results": "Services found",
		"NoResults": "No service matches the search.", "Cost": "Cost", "Free": "Free", "Duration": "Duration",
		"Days": "working days", "Provider": "Provider", "Domain": "Domain", "Documents": "Documents needed",
		"NoDocuments": "No documents are needed.", "Apply": "Apply online", "OnBehalfOf": "Who may apply",
		"Delivery": "Delivery", "PaidUnavailable": "Online payment is not available on this portal yet: paid services cannot be applied for.",
		"Step1": "Applicant", "Step2": "Form", "Step3": "Documents", "Step4": "Delivery", "Step5": "Confirmation",
		"ForWhom": "Whom are you applying for?", "self": "For myself", "person": "For another person (MPower power)",
		"company": "For a company (administrator or MPower power)", "Continue": "Continue", "Back": "Back",
		"Applicant": "Applicant", "Beneficiary": "Beneficiary", "Status": "Application status", "History": "History",
		"Number": "Application number", "Service": "Service", "SignSubmit": "Sign the application with MSign", "Lei": "lei",
		"draft": "Draft", "submitted": "Submitted", "paid": "Paid", "in-progress": "In progress", "completed": "Completed",
		"rejected": "Rejected", "cancelled": "Cancelled", "p-required": "Required.", "p-idnp": "Not a valid IDNP.",
		"DocTitle": "APPLICATION", "DocDate": "Date", "DocData": "The application's data", "DocAttachments": "Attached documents",
		"DocDelivery": "Delivery", "DocStatement": "By signing this application I confirm that the data above are correct and complete.",
		"SignPDF": "Sign a PDF", "VerifyPDF": "Verify a signature", "BeneficiaryIDN": "Beneficiary's IDNP or IDNO",
		"BeneficiaryName": "Beneficiary's name", "Basis": "Basis", "basis-self": "on one's own behalf",
		"basis-administrator": "administrator of the company", "basis-power": "MPower power no.",
		"Attach": "Attach", "AttachHint": "PDF, PNG or JPEG, at most", "Attached": "Attached documents", "Remove": "Remove",
		"OtherDocument": "Another document", "mcabinet": "Electronically, in MCabinet", "pickup": "At the provider's office", "courier": "By courier",
		"Address": "Delivery address", "Confirm": "Check the application",
		"SignNote": "You will go to MSign to sign the application with your mobile signature or USB token, then come back here.",
		"Created":  "Created", "Download": "Download the signed application", "Cancel": "Cancel the application", "Pay": "Pay",
		"PayNote": "The application is signed; pay the fee for it to be examined.", "Receipt": "The application is submitted",
		"ReceiptNote": "Keep the application number; its status is always on this page.", "NoApps": "You have no applications yet.",
		"Resume": "Go on filling it in", "Error": "Error", "Home": "Home page", "FormErrors": "Correct the marked fields.",
		"Required": "required", "by-applicant": "cancelled by the applicant", "payment-timeout": "not paid in time",
		"documents-incomplete": "documents incomplete", "refused": "refused",
		"p-too-long": "At most %s characters.", "p-idno": "Not a valid IDNO (13 digits, check digit).", "p-idn": "Neither a valid IDNP nor IDNO.",
		"p-date": "Write the date as YYYY-MM-DD.", "p-past": "The date cannot be in the future.", "p-future": "The date cannot be in the past.",
		"p-min": "At least %s.", "p-max": "At most %s.", "p-number": "A whole number.", "p-option": "Choose one of the options.",
		"p-email": "Not a valid e-mail address.", "p-phone": "Phone: +373 or 0 and 8 digits.", "p-pattern": "The value does not have the expected form.",
		"p-text": "Characters not allowed.", "e-not-allowed": "This service cannot be applied for that way.", "e-bad-idnp": "The beneficiary's IDNP is not valid.",
		"e-bad-idno": "The company's IDNO is not valid.", "e-no-power": "You hold no valid MPower power from the beneficiary for this service, and you are not the company's administrator.",
		"e-no-mpower": "The check of powers (MPower) is not available now.", "e-self": "For yourself, choose \"For myself\".",
		"e-file-type": "The file is not a PDF, PNG or JPEG (its content does not match).", "e-file-size": "The file is larger than allowed.",
		"e-file-count": "The most documents are attached already.", "e-file-empty": "Choose a file.", "e-delivery": "Choose a delivery.",
		"e-address": "Write the delivery address.", "e-no-msign": "Signing (MSign) is not available now.", "e-not-signed": "The application is not signed:",
		"e-paid": "Online payment is not available yet: the service cannot be applied for.", "e-name": "Write the beneficiary's name.", "DocNone": "none",
	},
}

// wording is the texts in lang, Romanian where lang has none.
func wording(lang string) map[string]string {
	out := make(map[string]string, len(texts["ro"]))
	for k, v := range texts["ro"] {
		out[k] = v
	}
	for k, v := range texts[lang] {
		out[k] = v
	}
	return out
}

// problemText words a form field's problem.
func problemText(w map[string]string, e catalog.FieldError) string {
	s, ok := w["p-"+e.Code]
	if !ok {
		return e.Code
	}
	if strings.Contains(s, "%s") {
		return fmt.Sprintf(s, e.Param)
	}
	return s
}

// money shows bani as lei: 17600 → "176,00 lei".
func money(w map[string]string, bani int64) string {
	if bani == 0 {
		return w["Free"]
	}
	return strconv.FormatInt(bani/100, 10) + "," + fmt.Sprintf("%02d", bani%100) + " " + w["Lei"]
}

// stateText words a state with its reason.
func stateText(w map[string]string, st application.State, reason string) string {
	s := w[string(st)]
	if reason != "" {
		s += " (" + w[reason] + ")"
	}
	return s
}
