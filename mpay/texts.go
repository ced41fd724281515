package mpay

// texts are every user-visible string of MPay's pages and receipts, by key
// and language: Romanian first (the default), Russian, English. Moving
// them to the i18n package is mechanical.
var texts = map[string]map[string]string{
	"title":              {"ro": "MPay — plăți pentru servicii publice", "ru": "MPay — оплата государственных услуг", "en": "MPay — paying for public services"},
	"start.lead":         {"ro": "Alegeți serviciul și introduceți codul comenzii.", "ru": "Выберите услугу и введите код заказа.", "en": "Choose the service and type the order key."},
	"start.service":      {"ro": "Serviciul", "ru": "Услуга", "en": "Service"},
	"start.order":        {"ro": "Codul comenzii", "ru": "Код заказа", "en": "Order key"},
	"start.go":           {"ro": "Caută comanda", "ru": "Найти заказ", "en": "Find the order"},
	"start.none":         {"ro": "Niciun serviciu nu este înregistrat.", "ru": "Нет зарегистрированных услуг.", "en": "No service is registered."},
	"inv.heading":        {"ro": "Plată", "ru": "Оплата", "en": "Payment"},
	"inv.service":        {"ro": "Serviciul", "ru": "Услуга", "en": "Service"},
	"inv.order":          {"ro": "Comanda", "ru": "Заказ", "en": "Order"},
	"inv.invoice":        {"ro": "Factura", "ru": "Счёт", "en": "Invoice"},
	"inv.due":            {"ro": "Suma de plată", "ru": "Сумма к оплате", "en": "Amount due"},
	"inv.unknown":        {"ro": "nestabilită: introduceți suma", "ru": "не указана: введите сумму", "en": "not set: type the amount"},
	"inv.dueDate":        {"ro": "Termen de plată", "ru": "Срок оплаты", "en": "Due date"},
	"inv.state":          {"ro": "Starea", "ru": "Состояние", "en": "State"},
	"inv.inflight":       {"ro": "Plătit, în curs de confirmare", "ru": "Оплачено, ожидает подтверждения", "en": "Paid, being confirmed"},
	"inv.amount":         {"ro": "Suma achitată acum", "ru": "Сумма платежа", "en": "Amount to pay now"},
	"inv.card":           {"ro": "Numărul cardului", "ru": "Номер карты", "en": "Card number"},
	"inv.holder":         {"ro": "Titularul cardului", "ru": "Держатель карты", "en": "Card holder"},
	"inv.expiry":         {"ro": "Valabil până la (LL/AA)", "ru": "Срок действия (ММ/ГГ)", "en": "Expiry (MM/YY)"},
	"inv.cvc":            {"ro": "CVC", "ru": "CVC", "en": "CVC"},
	"inv.pay":            {"ro": "Plătește", "ru": "Оплатить", "en": "Pay"},
	"inv.payments":       {"ro": "Plăți", "ru": "Платежи", "en": "Payments"},
	"inv.evidence":       {"ro": "Mesajele semnate schimbate cu furnizorul", "ru": "Подписанные сообщения с поставщиком", "en": "Signed messages exchanged with the provider"},
	"inv.back":           {"ro": "Înapoi la serviciu", "ru": "Вернуться к услуге", "en": "Back to the service"},
	"state.created":      {"ro": "de plată", "ru": "к оплате", "en": "to pay"},
	"state.pending":      {"ro": "plată în curs", "ru": "платёж обрабатывается", "en": "payment in progress"},
	"state.partial":      {"ro": "achitată parțial", "ru": "оплачено частично", "en": "partly paid"},
	"state.paid":         {"ro": "achitată", "ru": "оплачено", "en": "paid"},
	"state.failed":       {"ro": "plata a eșuat; puteți încerca din nou", "ru": "платёж не прошёл; можно попробовать снова", "en": "the payment failed; you may try again"},
	"state.expired":      {"ro": "expirată sau anulată de furnizor", "ru": "истёк срок или отменён поставщиком", "en": "expired or withdrawn by the provider"},
	"pay.authorizing":    {"ro": "Plata se procesează… pagina se reîncarcă singură.", "ru": "Платёж обрабатывается… страница обновится сама.", "en": "The payment is being processed… this page reloads itself."},
	"pay.challenge":      {"ro": "3-D Secure: introduceți codul primit de la bancă", "ru": "3-D Secure: введите код из банка", "en": "3-D Secure: type the code from your bank"},
	"pay.challengeHint":  {"ro": "Simulator: codul 1234 aprobă, oricare altul eșuează.", "ru": "Симулятор: код 1234 подтверждает, любой другой — отказ.", "en": "Simulator: code 1234 approves, any other fails."},
	"pay.confirm":        {"ro": "Confirmă", "ru": "Подтвердить", "en": "Confirm"},
	"pay.cancel":         {"ro": "Anulează", "ru": "Отменить", "en": "Cancel"},
	"pay.approved":       {"ro": "Plata a fost acceptată.", "ru": "Платёж принят.", "en": "The payment was accepted."},
	"pay.declined":       {"ro": "Plata a fost refuzată", "ru": "Платёж отклонён", "en": "The payment was declined"},
	"pay.confirmed":      {"ro": "Furnizorul a confirmat primirea plății.", "ru": "Поставщик подтвердил получение платежа.", "en": "The provider acknowledged the payment."},
	"pay.notConfirmed":   {"ro": "Furnizorul va fi anunțat; încercări până acum", "ru": "Поставщик будет уведомлён; попыток пока", "en": "The provider is being told; attempts so far"},
	"pay.receipt":        {"ro": "Descarcă nota de plată (PDF semnat)", "ru": "Скачать квитанцию (подписанный PDF)", "en": "Download the receipt (signed PDF)"},
	"pay.retry":          {"ro": "Încearcă din nou", "ru": "Попробовать снова", "en": "Try again"},
	"err.title":          {"ro": "Eroare", "ru": "Ошибка", "en": "Error"},
	"err.unknownService": {"ro": "Serviciul nu este înregistrat în MPay.", "ru": "Услуга не зарегистрирована в MPay.", "en": "The service is not registered with MPay."},
	"err.unknownOrder":   {"ro": "Furnizorul nu cunoaște această comandă.", "ru": "Поставщик не знает этого заказа.", "en": "The provider does not know this order."},
	"err.unreachable":    {"ro": "Furnizorul serviciului nu răspunde acum. Încercați mai târziu.", "ru": "Поставщик услуги сейчас не отвечает. Попробуйте позже.", "en": "The service provider does not answer now. Try again later."},
	"err.badCard":        {"ro": "Datele cardului nu sunt valide", "ru": "Данные карты неверны", "en": "The card details are not valid"},
	"err.notPayable":     {"ro": "Comanda nu poate fi plătită acum", "ru": "Заказ нельзя оплатить сейчас", "en": "The order cannot be paid now"},
	"err.amount":         {"ro": "Suma nu este permisă", "ru": "Сумма не допускается", "en": "The amount is not allowed"},
	"err.returnUrl":      {"ro": "Adresa de întoarcere nu aparține serviciului.", "ru": "Адрес возврата не принадлежит услуге.", "en": "The return address is not the service's."},
	"receipt.title":      {"ro": "Notă de plată", "ru": "Платёжная квитанция", "en": "Payment note"},
	"receipt.service":    {"ro": "Serviciul", "ru": "Услуга", "en": "Service"},
	"receipt.order":      {"ro": "Comanda", "ru": "Заказ", "en": "Order"},
	"receipt.reason":     {"ro": "Destinația plății", "ru": "Назначение платежа", "en": "Purpose"},
	"receipt.invoice":    {"ro": "Factura", "ru": "Счёт", "en": "Invoice"},
	"receipt.payment":    {"ro": "Plata", "ru": "Платёж", "en": "Payment"},
	"receipt.amount":     {"ro": "Suma", "ru": "Сумма", "en": "Amount"},
	"receipt.paidAt":     {"ro": "Achitată la", "ru": "Оплачено", "en": "Paid at"},
	"receipt.instrument": {"ro": "Instrument", "ru": "Способ", "en": "Instrument"},
	"receipt.card":       {"ro": "card", "ru": "карта", "en": "card"},
	"receipt.auth":       {"ro": "cod de autorizare", "ru": "код авторизации", "en": "authorisation code"},
	"receipt.payer":      {"ro": "Plătitorul", "ru": "Плательщик", "en": "Payer"},
	"receipt.sealed":     {"ro": "Document semnat electronic de MPay (sigiliu electronic).", "ru": "Документ подписан электронной печатью MPay.", "en": "Document sealed electronically by MPay."},
}

// langs MPay speaks, the first the default.
var langs = []string{"ro", "ru", "en"}

// text is the string of key in lang (Romanian when missing).
func text(lang, key string) string {
	m := texts[key]
	if s, ok := m[lang]; ok {
		return s
	}
	if s, ok := m["ro"]; ok {
		return s
	}
	return key
}

// pickLang is lang if MPay speaks it, else Romanian.
func pickLang(lang string) string {
	for _, l := range langs {
		if l == lang {
			return l
		}
	}
	return "ro"
}
