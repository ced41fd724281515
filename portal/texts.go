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
		"OtherPages": "Alte servicii semnat", "SignPDF": "Semnează un PDF", "VerifyPDF": "Verifică o semnătură",
		"Step1": "Solicitantul", "Step2": "Formularul", "Step3": "Documentele", "Step4": "Primirea", "Step5": "Confirmarea",
		"ForWhom": "Pentru cine solicitați?", "self": "Pentru mine", "person": "Pentru altă persoană (cu procură MPower)",
		"company": "Pentru o companie (administrator sau cu procură MPower)", "BeneficiaryIDN": "IDNP sau IDNO al beneficiarului",
		"BeneficiaryName": "Numele beneficiarului", "Continue": "Continuă", "Back": "Înapoi", "Save": "Salvează",
		"Applicant": "Solicitant", "Beneficiary": "Beneficiar", "Basis": "Temei", "basis-self": "în nume propriu",
		"basis-administrator": "administrator al companiei", "basis-power": "procură MPower nr.",
		"Attach": "Atașează", "AttachHint": "PDF, PNG sau JPEG, cel mult", "Attached": "Documente atașate", "Remove": "Șterge",
		"NoAttachments": "Niciun document atașat.", "DocFor": "Documentul",
		"mcabinet": "Electronic, în MCabinet", "pickup": "La ghișeul prestatorului", "courier": "Prin curier, la adresa:",
		"Address": "Adresa de livrare", "Confirm": "Verificați cererea", "SignSubmit": "Semnează cererea cu MSign",
		"SignNote": "Veți fi trimis la MSign pentru a semna cererea cu semnătura mobilă sau cu tokenul USB; apoi reveniți aici.",
		"Status":   "Starea cererii", "History": "Istoric", "Number": "Numărul cererii", "Service": "Serviciul",
		"Created": "Creată", "Changed": "Modificată", "Download": "Descarcă cererea semnată", "Cancel": "Anulează cererea",
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
		"e-incomplete": "Completați întâi formularul.", "e-name": "Scrieți numele beneficiarului.",
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
