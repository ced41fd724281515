package mpass

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

//go:embed web/*.html web/static/*
var webFS embed.FS

// Languages of the pages: Romanian first (the default), Russian, English.
var langs = []string{"ro", "ru", "en"}

// pickLang is the page language: ?lang= if it is one of ours, else the
// first of ours the browser asks for, else Romanian.
func pickLang(param, acceptLanguage string) string {
	for _, l := range langs {
		if strings.EqualFold(param, l) {
			return l
		}
	}
	for _, part := range strings.Split(acceptLanguage, ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		base, _, _ := strings.Cut(tag, "-")
		for _, l := range langs {
			if strings.EqualFold(base, l) {
				return l
			}
		}
	}
	return "ro"
}

// messages are the pages' words in each language.
var messages = map[string]map[string]string{
	"ro": {
		"admin.title":                "Administrare MPass",
		"admin.login":                "Autentificare ca administrator",
		"admin.login.hint":           "Administratorii se autentifică cu tokenul sau telefonul lor, ca oricine.",
		"admin.faults.hint":          "Comutatoarele de injectare a erorilor fac ca fiecare răspuns către serviciu să fie greșit în felul numit, pentru testele de conformitate ale serviciului.",
		"admin.options":              "Opțiuni",
		"admin.save":                 "Salvează",
		"admin.none":                 "Niciun serviciu înregistrat.",
		"problem.not-admin":          "Nu sunteți administrator MPass.",
		"fault.unsigned-response":    "Răspuns nesemnat",
		"fault.wrong-certificate":    "Semnat cu alt certificat",
		"fault.expired":              "Răspuns expirat",
		"fault.future":               "Răspuns emis în viitor",
		"fault.no-destination":       "Fără Destination",
		"fault.no-in-response-to":    "Fără InResponseTo",
		"fault.stale-in-response-to": "InResponseTo al cererii precedente",
		"token.title":                "Autentificare cu token USB",
		"token.cert":                 "Certificatul",
		"token.submit":               "Autentificare cu tokenul",
		"token.hint":                 "Programul semnat agent trebuie să ruleze pe calculatorul dvs.: confirmați autentificarea în el și introduceți PIN-ul tokenului.",
		"token.no-agent":             "Programul semnat agent nu răspunde. Porniți-l (semnat agent --origin ADRESA) și reîncărcați pagina.",
		"token.no-cert":              "Tokenul nu are niciun certificat de semnătură.",
		"token.refused":              "Ați refuzat autentificarea în semnat agent. Puteți încerca din nou.",
		"token.waiting":              "Confirmați în semnat agent și introduceți PIN-ul tokenului…",
		"token.failed":               "Tokenul nu a putut semna:",
		"problem.token-signature":    "Semnătura tokenului nu este pentru acest site și această autentificare. Încercați din nou.",
		"problem.token-nonce":        "Autentificarea cu tokenul a expirat sau a fost deja folosită. Încercați din nou.",
		"problem.token-revoked":      "Certificatul tokenului este revocat. Cereți unul nou emitentului.",
		"problem.token-certificate":  "Certificatul tokenului nu poate fi folosit pentru autentificare (nu este emis de o autoritate de încredere sau nu numește o persoană).",
		"problem.token-bad-request":  "Cererea de autentificare cu tokenul nu poate fi citită.",
		"problem.no-token":           "Autentificarea cu token nu este disponibilă pe acest server.",
		"session.title":              "Sesiunea MPass",
		"session.as":                 "Sunteți autentificat ca",
		"session.services":           "Servicii în care ați intrat cu această sesiune:",
		"session.logout":             "Ieșire din toate serviciile",
		"session.none":               "Nu sunteți autentificat în MPass.",
		"login.title":                "Autentificare",
		"login.to":                   "Vă autentificați pentru serviciul",
		"login.phone":                "Numărul de telefon cu semnătură mobilă",
		"login.phone.hint":           "De exemplu 069123456. Veți confirma pe telefon cu codul PIN.",
		"login.submit":               "Autentificare cu semnătura mobilă",
		"login.cancel":               "Renunță și revino la serviciu",
		"wait.title":                 "Confirmați pe telefon",
		"wait.sent":                  "Am trimis cererea de autentificare la numărul",
		"wait.code":                  "Verificați că telefonul arată același cod de control:",
		"wait.hint":                  "Dacă codul diferă, refuzați cererea pe telefon. Pagina se actualizează singură.",
		"error.title":                "Autentificarea nu poate continua",

		"problem.refused":       "Ați refuzat cererea pe telefon. Puteți încerca din nou.",
		"problem.timeout":       "Telefonul nu a răspuns la timp. Încercați din nou.",
		"problem.unknown-phone": "Acest număr nu are semnătură mobilă. Verificați numărul sau adresați-vă operatorului.",
		"problem.revoked":       "Certificatul semnăturii mobile este revocat. Adresați-vă operatorului pentru unul nou.",
		"problem.certificate":   "Certificatul semnăturii mobile nu este valabil pentru autentificare.",
		"problem.no-revocation": "Nu putem verifica acum dacă certificatul este valabil. Încercați mai târziu.",
		"problem.unreachable":   "Telefonul nu poate fi contactat acum. Încercați mai târziu.",
		"problem.blocked":       "Codul PIN al semnăturii mobile este blocat. Deblocați-l cu codul PUK.",
		"problem.busy":          "Telefonul are deja o cerere în așteptare. Răspundeți la ea sau anulați-o.",
		"problem.bad-answer":    "Răspunsul telefonului nu a putut fi verificat. Încercați din nou.",
		"problem.bad-phone":     "Numărul de telefon nu este scris corect. Scrieți-l ca 069123456 sau +37369123456.",
		"problem.no-mobile":     "Autentificarea cu semnătura mobilă nu este disponibilă pe acest server.",
		"problem.failed":        "Autentificarea nu a reușit. Încercați din nou.",
		"problem.no-login":      "Această autentificare nu mai există (a expirat, s-a încheiat sau a fost începută în alt browser). Reveniți la serviciu și începeți din nou.",
		"problem.bad-request":   "Cererea de autentificare a serviciului nu poate fi citită.",
		"problem.relay-state":   "Cererea serviciului are un RelayState prea lung (cel mult 80 de octeți).",
		"problem.unknown-sp":    "Serviciul care v-a trimis aici nu este înregistrat la MPass.",
		"problem.bad-signature": "Semnătura cererii serviciului nu este validă. Cererea a fost refuzată.",
		"problem.unknown-acs":   "Adresa de revenire cerută nu este înregistrată pentru acest serviciu.",
		"problem.stale":         "Cererea serviciului a expirat. Reveniți la serviciu și încercați din nou.",
		"problem.destination":   "Cererea serviciului nu era adresată acestui MPass.",
		"problem.replayed":      "Această cerere de autentificare a fost deja folosită. Reveniți la serviciu și începeți din nou.",
	},
	"ru": {
		"admin.title":                "Администрирование MPass",
		"admin.login":                "Войти как администратор",
		"admin.login.hint":           "Администраторы входят со своим токеном или телефоном, как все.",
		"admin.faults.hint":          "Переключатели внедрения ошибок делают каждый ответ сервису неверным указанным образом — для тестов соответствия сервиса.",
		"admin.options":              "Параметры",
		"admin.save":                 "Сохранить",
		"admin.none":                 "Нет зарегистрированных сервисов.",
		"problem.not-admin":          "Вы не администратор MPass.",
		"fault.unsigned-response":    "Неподписанный ответ",
		"fault.wrong-certificate":    "Подписан другим сертификатом",
		"fault.expired":              "Просроченный ответ",
		"fault.future":               "Ответ из будущего",
		"fault.no-destination":       "Без Destination",
		"fault.no-in-response-to":    "Без InResponseTo",
		"fault.stale-in-response-to": "InResponseTo предыдущего запроса",
		"token.title":                "Вход с USB-токеном",
		"token.cert":                 "Сертификат",
		"token.submit":               "Войти с токеном",
		"token.hint":                 "На вашем компьютере должна работать программа semnat agent: подтвердите в ней вход и введите PIN-код токена.",
		"token.no-agent":             "Программа semnat agent не отвечает. Запустите её (semnat agent --origin АДРЕС) и обновите страницу.",
		"token.no-cert":              "На токене нет сертификата подписи.",
		"token.refused":              "Вы отказались от входа в semnat agent. Можно попробовать ещё раз.",
		"token.waiting":              "Подтвердите в semnat agent и введите PIN-код токена…",
		"token.failed":               "Токен не смог подписать:",
		"problem.token-signature":    "Подпись токена сделана не для этого сайта и этого входа. Попробуйте ещё раз.",
		"problem.token-nonce":        "Вход с токеном истёк или уже использован. Попробуйте ещё раз.",
		"problem.token-revoked":      "Сертификат токена отозван. Запросите новый у издателя.",
		"problem.token-certificate":  "Сертификат токена нельзя использовать для входа (выдан не доверенным центром или не называет человека).",
		"problem.token-bad-request":  "Запрос на вход с токеном не читается.",
		"problem.no-token":           "Вход с токеном на этом сервере недоступен.",
		"session.title":              "Сеанс MPass",
		"session.as":                 "Вы вошли как",
		"session.services":           "Сервисы, в которые вы вошли в этом сеансе:",
		"session.logout":             "Выйти из всех сервисов",
		"session.none":               "Вы не вошли в MPass.",
		"login.title":                "Вход",
		"login.to":                   "Вы входите в сервис",
		"login.phone":                "Номер телефона с мобильной подписью",
		"login.phone.hint":           "Например 069123456. Подтвердите на телефоне PIN-кодом.",
		"login.submit":               "Войти с мобильной подписью",
		"login.cancel":               "Отказаться и вернуться в сервис",
		"wait.title":                 "Подтвердите на телефоне",
		"wait.sent":                  "Запрос на вход отправлен на номер",
		"wait.code":                  "Проверьте, что телефон показывает тот же контрольный код:",
		"wait.hint":                  "Если код другой, отклоните запрос на телефоне. Страница обновляется сама.",
		"error.title":                "Вход невозможен",

		"problem.refused":       "Вы отклонили запрос на телефоне. Можно попробовать ещё раз.",
		"problem.timeout":       "Телефон не ответил вовремя. Попробуйте ещё раз.",
		"problem.unknown-phone": "У этого номера нет мобильной подписи. Проверьте номер или обратитесь к оператору.",
		"problem.revoked":       "Сертификат мобильной подписи отозван. Обратитесь к оператору за новым.",
		"problem.certificate":   "Сертификат мобильной подписи не годится для входа.",
		"problem.no-revocation": "Сейчас нельзя проверить, действителен ли сертификат. Попробуйте позже.",
		"problem.unreachable":   "Телефон сейчас недоступен. Попробуйте позже.",
		"problem.blocked":       "PIN-код мобильной подписи заблокирован. Разблокируйте его PUK-кодом.",
		"problem.busy":          "На телефоне уже ждёт другой запрос. Ответьте на него или отмените.",
		"problem.bad-answer":    "Ответ телефона не прошёл проверку. Попробуйте ещё раз.",
		"problem.bad-phone":     "Номер телефона записан неверно. Пишите 069123456 или +37369123456.",
		"problem.no-mobile":     "Вход с мобильной подписью на этом сервере недоступен.",
		"problem.failed":        "Вход не удался. Попробуйте ещё раз.",
		"problem.no-login":      "Этого входа больше нет (истёк, завершён или начат в другом браузере). Вернитесь в сервис и начните заново.",
		"problem.bad-request":   "Запрос сервиса на вход не читается.",
		"problem.relay-state":   "RelayState в запросе сервиса слишком длинный (не больше 80 байт).",
		"problem.unknown-sp":    "Сервис, который направил вас сюда, не зарегистрирован в MPass.",
		"problem.bad-signature": "Подпись запроса сервиса недействительна. Запрос отклонён.",
		"problem.unknown-acs":   "Запрошенный адрес возврата не зарегистрирован для этого сервиса.",
		"problem.stale":         "Запрос сервиса устарел. Вернитесь в сервис и попробуйте ещё раз.",
		"problem.destination":   "Запрос сервиса был адресован не этому MPass.",
		"problem.replayed":      "Этот запрос на вход уже использован. Вернитесь в сервис и начните заново.",
	},
	"en": {
		"admin.title":                "MPass administration",
		"admin.login":                "Log in as an administrator",
		"admin.login.hint":           "Administrators log in with their token or phone, like anyone.",
		"admin.faults.hint":          "Fault-injection switches make every Response to the service wrong in the way named, for the service's conformance tests.",
		"admin.options":              "Options",
		"admin.save":                 "Save",
		"admin.none":                 "No relying service is registered.",
		"problem.not-admin":          "You are not an MPass administrator.",
		"fault.unsigned-response":    "Unsigned Response",
		"fault.wrong-certificate":    "Signed with another certificate",
		"fault.expired":              "Expired Response",
		"fault.future":               "Response issued in the future",
		"fault.no-destination":       "No Destination",
		"fault.no-in-response-to":    "No InResponseTo",
		"fault.stale-in-response-to": "InResponseTo of the previous request",
		"token.title":                "Log in with a USB token",
		"token.cert":                 "Certificate",
		"token.submit":               "Log in with the token",
		"token.hint":                 "The semnat agent program must run on your computer: confirm the login in it and type the token PIN.",
		"token.no-agent":             "The semnat agent program does not answer. Start it (semnat agent --origin ADDRESS) and reload the page.",
		"token.no-cert":              "The token has no signing certificate.",
		"token.refused":              "You refused the login in semnat agent. You can try again.",
		"token.waiting":              "Confirm in semnat agent and type the token PIN…",
		"token.failed":               "The token could not sign:",
		"problem.token-signature":    "The token's signature is not for this site and this login. Try again.",
		"problem.token-nonce":        "The token login expired or was already used. Try again.",
		"problem.token-revoked":      "The token's certificate is revoked. Ask its issuer for a new one.",
		"problem.token-certificate":  "The token's certificate cannot be used to log in (it is not from a trusted authority, or names no person).",
		"problem.token-bad-request":  "The token login request cannot be read.",
		"problem.no-token":           "Token login is not available on this server.",
		"session.title":              "Your MPass session",
		"session.as":                 "You are logged in as",
		"session.services":           "Services you logged in to with this session:",
		"session.logout":             "Log out of every service",
		"session.none":               "You are not logged in to MPass.",
		"login.title":                "Log in",
		"login.to":                   "You are logging in to",
		"login.phone":                "Phone number with mobile signature",
		"login.phone.hint":           "For example 069123456. You confirm on the phone with your PIN.",
		"login.submit":               "Log in with mobile signature",
		"login.cancel":               "Cancel and return to the service",
		"wait.title":                 "Confirm on your phone",
		"wait.sent":                  "We sent the login request to",
		"wait.code":                  "Check that your phone shows the same verification code:",
		"wait.hint":                  "If the code differs, refuse the request on the phone. This page updates by itself.",
		"error.title":                "The login cannot go on",

		"problem.refused":       "You refused the request on the phone. You can try again.",
		"problem.timeout":       "The phone did not answer in time. Try again.",
		"problem.unknown-phone": "This number has no mobile signature. Check the number or ask your operator.",
		"problem.revoked":       "The mobile signature certificate is revoked. Ask your operator for a new one.",
		"problem.certificate":   "The mobile signature certificate cannot be used to log in.",
		"problem.no-revocation": "We cannot check now whether the certificate is valid. Try again later.",
		"problem.unreachable":   "The phone cannot be reached now. Try again later.",
		"problem.blocked":       "The mobile signature PIN is blocked. Unblock it with the PUK.",
		"problem.busy":          "Another request is waiting on the phone. Answer or cancel it first.",
		"problem.bad-answer":    "The phone's answer did not verify. Try again.",
		"problem.bad-phone":     "The phone number is not written right. Write it as 069123456 or +37369123456.",
		"problem.no-mobile":     "Mobile signature login is not available on this server.",
		"problem.failed":        "The login failed. Try again.",
		"problem.no-login":      "This login no longer exists (it expired, ended, or was started in another browser). Go back to the service and start again.",
		"problem.bad-request":   "The service's login request cannot be read.",
		"problem.relay-state":   "The service's request has a RelayState that is too long (at most 80 bytes).",
		"problem.unknown-sp":    "The service that sent you here is not registered with MPass.",
		"problem.bad-signature": "The signature of the service's request is not valid. The request was refused.",
		"problem.unknown-acs":   "The return address asked for is not registered for this service.",
		"problem.stale":         "The service's request has expired. Go back to the service and try again.",
		"problem.destination":   "The service's request was not addressed to this MPass.",
		"problem.replayed":      "This login request was already used. Go back to the service and start again.",
	},
}

// pageData is what the page templates read.
type pageData struct {
	Lang      string
	LangLinks []langLink
	Tx        string
	SP        string // the relying service, as its host
	Phone     string
	Code      string
	Problem   string // message key after "problem."
	Detail    string // technical detail of a refused request
	Mobile    bool
	AgentURL  string    // the local token agent (token login offered)
	Self      string    // the page's own URL, to switch language
	Refresh   string    // reload the page at this URL
	Person    string    // the session's person (session page)
	Services  []string  // the relying services of the session
	CSRF      string    // the admin forms' token
	SPs       []adminSP // the admin page's relying services
}

type langLink struct{ Lang, URL string }

// T translates a message key into the page's language.
func (d pageData) T(key string) string {
	if m, ok := messages[d.Lang][key]; ok {
		return m
	}
	if m, ok := messages["en"][key]; ok {
		return m
	}
	return key
}

type web struct {
	pages    map[string]*template.Template
	postForm *template.Template // a Response (or LogoutResponse) to a relying service
	postReq  *template.Template // a LogoutRequest to a relying service
	files    http.Handler
}

func newWeb() (*web, error) {
	w := &web{pages: map[string]*template.Template{}}
	for _, name := range []string{"login", "wait", "error", "session", "admin"} {
		t, err := template.ParseFS(webFS, "web/layout.html", "web/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("mpass: page %s: %w", name, err)
		}
		w.pages[name] = t.Lookup(name + ".html")
	}
	pf, err := template.ParseFS(webFS, "web/autopost.html")
	if err != nil {
		return nil, fmt.Errorf("mpass: post form: %w", err)
	}
	w.postForm, w.postReq = pf.Lookup("response"), pf.Lookup("request")
	sub, err := fs.Sub(webFS, "web/static")
	if err != nil {
		return nil, err
	}
	w.files = http.StripPrefix(pathStatic, http.FileServer(http.FS(sub)))
	return w, nil
}

// page renders a page in lang.
func (w *web) page(c echo.Context, status int, name, lang string, d pageData) error {
	d.Lang = lang
	if d.Self != "" {
		for _, l := range langs {
			d.LangLinks = append(d.LangLinks, langLink{l, d.Self + "&lang=" + l})
		}
	}
	var b bytes.Buffer
	if err := w.pages[name].Execute(&b, d); err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderCacheControl, "no-store")
	h.Set("Content-Language", lang)
	return c.HTMLBlob(status, b.Bytes())
}

func (w *web) static(c echo.Context) error {
	w.files.ServeHTTP(c.Response(), c.Request())
	return nil
}
