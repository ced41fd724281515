package reportpdf

import "github.com/semnat/semnat/pades"

// lang holds the report's words in one language; every string a reader
// sees is here (Romanian first).
type lang struct {
	title, file, size, bytes, sha256, validated, verdict, signatures, revisions string
	signature, docTimestamp, field, signer, issuer, time, timestamped, claimed  string
	level, reason, policy, issuedBy, checkIt                                    string
	passed, failed, indeterminate                                               string
}

func (l *lang) indication(i pades.Indication) string {
	switch i {
	case pades.TotalPassed:
		return l.passed
	case pades.TotalFailed:
		return l.failed
	}
	return l.indeterminate
}

var words = map[string]*lang{
	"ro": {
		title: "Raport de verificare a semnăturilor electronice", file: "Fișierul", size: "Mărimea", bytes: "octeți",
		sha256: "SHA-256 al documentului", validated: "Verificat la", verdict: "Verdict", signatures: "Semnături", revisions: "Revizii",
		signature: "Semnătura", docTimestamp: "Marca temporală a documentului", field: "câmpul", signer: "Semnatar", issuer: "Emitentul certificatului",
		time: "Ora semnării", timestamped: "dovedită de o marcă temporală", claimed: "declarată de semnatar, nedovedită",
		level: "Nivel", reason: "Motivul declarat", policy: "Politica de verificare a modificărilor",
		issuedBy: "Raport emis și sigilat electronic de", checkIt: "Sigiliul acestui raport poate fi verificat cu orice verificator PAdES (semnat verify, pdfsig, Adobe Reader).",
		passed: "Semnătură validă", failed: "Semnătură nevalidă", indeterminate: "Nu poate fi confirmată",
	},
	"ru": {
		title: "Отчёт о проверке электронных подписей", file: "Файл", size: "Размер", bytes: "байт",
		sha256: "SHA-256 документа", validated: "Проверено", verdict: "Вердикт", signatures: "Подписи", revisions: "Редакции",
		signature: "Подпись", docTimestamp: "Метка времени документа", field: "поле", signer: "Подписант", issuer: "Издатель сертификата",
		time: "Время подписи", timestamped: "подтверждено меткой времени", claimed: "заявлено подписантом, не подтверждено",
		level: "Уровень", reason: "Указанная причина", policy: "Правила проверки изменений",
		issuedBy: "Отчёт выдан и запечатан электронной печатью:", checkIt: "Печать этого отчёта можно проверить любым средством проверки PAdES (semnat verify, pdfsig, Adobe Reader).",
		passed: "Подпись действительна", failed: "Подпись недействительна", indeterminate: "Невозможно подтвердить",
	},
	"en": {
		title: "Electronic signature verification report", file: "File", size: "Size", bytes: "bytes",
		sha256: "Document SHA-256", validated: "Validated at", verdict: "Verdict", signatures: "Signatures", revisions: "Revisions",
		signature: "Signature", docTimestamp: "Document timestamp", field: "field", signer: "Signer", issuer: "Certificate issuer",
		time: "Signing time", timestamped: "proven by a timestamp", claimed: "claimed by the signer, not proven",
		level: "Level", reason: "Stated reason", policy: "Policy on changes",
		issuedBy: "Report issued and sealed by", checkIt: "The seal of this report can be checked with any PAdES verifier (semnat verify, pdfsig, Adobe Reader).",
		passed: "Valid signature", failed: "Invalid signature", indeterminate: "Cannot be confirmed",
	},
}
