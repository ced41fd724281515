package mpay

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/semnat/semnat/i18n"
	"github.com/semnat/semnat/internal/textpdf"
	"github.com/semnat/semnat/pades"
)

// RenderReceipt is the "Notă de plată" of an approved payment in lang (ro,
// ru or en): one A4 page, unsigned.
func RenderReceipt(lang string, sp *SP, in *Invoice, p *Payment) ([]byte, error) {
	t := func(k string) string { return text(lang, k) }
	lines := []string{t("receipt.title"), "",
		t("receipt.service") + ": " + sp.Name + " (" + sp.ServiceID + ")",
		t("receipt.order") + ": " + in.OrderKey,
		t("receipt.reason") + ": " + in.Reason,
		t("receipt.invoice") + ": " + in.ID,
		t("receipt.payment") + ": " + p.ID,
		t("receipt.amount") + ": " + FormatAmount(p.Amount) + " " + p.Currency,
		t("receipt.paidAt") + ": " + p.PaidAt.In(i18n.Zone).Format("02.01.2006 15:04:05") + " (Europe/Chisinau)",
	}
	switch p.Instrument {
	case InstrumentEBanking:
		lines = append(lines, t("receipt.instrument")+": e-banking, "+t("receipt.auth")+" "+p.AuthCode)
	case InstrumentCash:
		lines = append(lines, t("receipt.instrument")+": "+t("cash.name")+", "+t("receipt.auth")+" "+p.AuthCode)
	default:
		lines = append(lines, t("receipt.instrument")+": "+t("receipt.card")+" **** "+p.CardLast4+", "+t("receipt.auth")+" "+p.AuthCode)
	}
	if in.Order.CustomerName != "" {
		lines = append(lines, t("receipt.payer")+": "+in.Order.CustomerName)
	}
	for _, l := range splitLines(in.Order.Lines, p.Amount) {
		for _, ol := range in.Order.Lines {
			if ol.LineID == l.LineID {
				lines = append(lines, "  • "+ol.Reason+": "+FormatAmount(l.Amount)+" "+p.Currency+" → "+ol.DestinationAccount.BeneficiaryName+" "+ol.DestinationAccount.BankAccount)
			}
		}
	}
	lines = append(lines, "", t("receipt.sealed"))
	b, err := textpdf.Page(lines)
	if err != nil {
		return nil, fmt.Errorf("mpay: receipt of %s: %w", p.ID, err)
	}
	return b, nil
}

// Receipt is the sealed receipt of an approved payment, made on first
// demand and kept: the same file for the payer and the SP.
func (s *Service) Receipt(ctx context.Context, p *Payment, lang string) ([]byte, error) {
	if p.State != PayApproved {
		return nil, fmt.Errorf("%w: payment %s is %s, not paid", ErrNotFound, p.ID, p.State)
	}
	if b, err := s.ledger.Receipt(ctx, p.ID); err != nil || b != nil {
		return b, err
	}
	in, err := scanInvoice(s.cfg.Store.QueryRow(ctx, `SELECT `+invoiceCols+` FROM mpay_invoices WHERE id = ?`, p.InvoiceID))
	if err != nil {
		return nil, err
	}
	sp, err := LookupService(ctx, s.cfg.Store, in.ServiceID)
	if err != nil {
		return nil, err
	}
	doc, err := RenderReceipt(lang, sp, in, p)
	if err != nil {
		return nil, err
	}
	opts := &pades.Options{Level: pades.LevelBB, Reason: "Notă de plată " + p.ID, Name: "MPay", Location: "Chișinău"}
	if s.cfg.Timestamper != nil {
		opts.Level, opts.Timestamper = pades.LevelBT, s.cfg.Timestamper
		if s.cfg.Revocation != nil {
			opts.Level, opts.Revocation, opts.ExtraCerts = pades.LevelBLT, s.cfg.Revocation, s.cfg.ExtraCerts
		}
	}
	var out bytes.Buffer
	if _, err := pades.Sign(ctx, bytes.NewReader(doc), int64(len(doc)), &out, pades.NewKeySigner(s.cfg.Key, s.cfg.Cert, s.cfg.Chain), opts); err != nil {
		return nil, fmt.Errorf("mpay: sealing the receipt of %s: %w", p.ID, err)
	}
	d := sha256.Sum256(out.Bytes())
	return s.ledger.KeepReceipt(ctx, p.ID, out.Bytes(), hex.EncodeToString(d[:]))
}
