// Drives the independent Mobile-ID client of the npm package `undersign`
// against our /mid-api face. Usage: node undersign.js BASE_URL MSISDN IDNP
// Prints one JSON line: {"ok": true, "subject": ..., "verified": true} or
// {"ok": false, "code": "USER_CANCELLED", "message": ...}.
const crypto = require("crypto")
const MobileId = require("undersign/lib/mobile_id")
const [base, phone, idnp] = process.argv.slice(2)
const mid = new MobileId(base.replace(/\/?$/, "/"), {user: "DEMO", password: "00000000-0000-0000-0000-000000000000"})
const signable = crypto.randomBytes(64)
const hash = crypto.createHash("sha256").update(signable).digest()

async function main() {
  try {
    const cert = await mid.readCertificate(phone, idnp)
    const session = await mid.sign(phone, idnp, hash)
    let sig = null
    while (sig == null) sig = await mid.waitForSignature(session, 2)
    console.log(JSON.stringify({ok: true, subject: cert.subject, verified: cert.hasSigned(signable, sig),
      code: MobileId.confirmation(hash)}))
  } catch (err) {
    console.log(JSON.stringify({ok: false, code: err.code, message: err.message}))
  }
}
main()
