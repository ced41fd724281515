package client

// The SOAP face's messages (document/literal, WS-I BP 1.1): the XML forms
// of the JSON face's types, as the WSDL in wsdl/ describes them. Amounts
// travel as xs:decimal in major units (123.45), as SOAP SPs expect, and
// are integers in minor units everywhere else.

import (
	"encoding/xml"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// NSMPay is the namespace of the SOAP face's operations and types; the
// SOAPAction of an operation is NSMPay + "IServiceProvider/" + its name.
const NSMPay = "https://mpay.gov.md/"

// SOAP actions of the two operations.
const (
	ActionGetOrderDetails     = NSMPay + "IServiceProvider/GetOrderDetails"
	ActionConfirmOrderPayment = NSMPay + "IServiceProvider/ConfirmOrderPayment"
)

// decimal is an amount in minor units written as an xs:decimal in major
// units with two fraction digits at most.
type decimal int64

func (d decimal) MarshalText() ([]byte, error) { return []byte(FormatDecimal(int64(d))), nil }

func (d *decimal) UnmarshalText(b []byte) error {
	v, err := ParseDecimal(string(b))
	*d = decimal(v)
	return err
}

// FormatDecimal writes minor units as a decimal in major units ("12.50").
func FormatDecimal(v int64) string {
	sign := ""
	u := uint64(v)
	if v < 0 {
		sign, u = "-", uint64(-v)
	}
	return fmt.Sprintf("%s%d.%02d", sign, u/100, u%100)
}

// ParseDecimal reads an xs:decimal amount in major units ("12.5", "12.50",
// "12") as minor units; more than two fraction digits (other than zeros),
// exponents and out-of-range amounts are refused (ErrBadMessage).
func ParseDecimal(s string) (int64, error) {
	t := strings.TrimSpace(s)
	neg := strings.HasPrefix(t, "-")
	t = strings.TrimPrefix(strings.TrimPrefix(t, "-"), "+")
	whole, frac, _ := strings.Cut(t, ".")
	frac = strings.TrimRight(frac, "0")
	if whole == "" && frac == "" || len(frac) > 2 || len(whole) > 15 || !digits(whole) || !digits(frac) {
		return 0, fmt.Errorf("%w: amount %q is not a decimal with at most two fraction digits", ErrBadMessage, s)
	}
	w, _ := strconv.ParseInt("0"+whole, 10, 64)
	f, _ := strconv.ParseInt((frac + "00")[:2], 10, 64)
	v := w*100 + f
	if neg {
		v = -v
	}
	return v, nil
}

func digits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

type xQuery struct {
	ServiceID string `xml:"ServiceID"`
	OrderKey  string `xml:"OrderKey"`
	Language  string `xml:"Language,omitempty"`
}

type xGetOrderDetails struct {
	XMLName xml.Name `xml:"https://mpay.gov.md/ GetOrderDetails"`
	Query   xQuery   `xml:"query"`
}

type xAccount struct {
	BankCode        string `xml:"BankCode,omitempty"`
	BankFiscalCode  string `xml:"BankFiscalCode,omitempty"`
	BankAccount     string `xml:"BankAccount,omitempty"`
	BeneficiaryName string `xml:"BeneficiaryName,omitempty"`
}

type xOrderLine struct {
	LineID             string   `xml:"LineID"`
	Reason             string   `xml:"Reason"`
	AmountDue          decimal  `xml:"AmountDue"`
	DestinationAccount xAccount `xml:"DestinationAccount"`
}

type xOrderDetails struct {
	ServiceID            string       `xml:"ServiceID"`
	OrderKey             string       `xml:"OrderKey"`
	Reason               string       `xml:"Reason"`
	Status               string       `xml:"Status"`
	IssuedAt             time.Time    `xml:"IssuedAt"`
	DueDate              *time.Time   `xml:"DueDate,omitempty"`
	TotalAmountDue       *decimal     `xml:"TotalAmountDue,omitempty"`
	Currency             string       `xml:"Currency"`
	AllowPartialPayments bool         `xml:"AllowPartialPayments"`
	AllowAdvancePayments bool         `xml:"AllowAdvancePayments"`
	CustomerType         string       `xml:"CustomerType,omitempty"`
	CustomerID           string       `xml:"CustomerID,omitempty"`
	CustomerName         string       `xml:"CustomerName,omitempty"`
	CustomerEmail        string       `xml:"CustomerEmail,omitempty"`
	Lines                []xOrderLine `xml:"Lines>OrderLine"`
}

type xGetOrderDetailsResponse struct {
	XMLName xml.Name        `xml:"https://mpay.gov.md/ GetOrderDetailsResponse"`
	Orders  []xOrderDetails `xml:"GetOrderDetailsResult>OrderDetails"`
}

type xPaymentLine struct {
	LineID string  `xml:"LineID"`
	Amount decimal `xml:"Amount"`
}

type xProperty struct {
	Name  string `xml:"Name"`
	Value string `xml:"Value"`
}

type xConfirmation struct {
	ServiceID   string         `xml:"ServiceID"`
	OrderKey    string         `xml:"OrderKey"`
	InvoiceID   string         `xml:"InvoiceID"`
	PaymentID   string         `xml:"PaymentID"`
	PaidAt      time.Time      `xml:"PaidAt"`
	TotalAmount decimal        `xml:"TotalAmount"`
	Currency    string         `xml:"Currency"`
	Lines       []xPaymentLine `xml:"Lines>PaymentLine"`
	Properties  []xProperty    `xml:"Properties>Property"`
}

type xConfirmOrderPayment struct {
	XMLName      xml.Name      `xml:"https://mpay.gov.md/ ConfirmOrderPayment"`
	Confirmation xConfirmation `xml:"confirmation"`
}

type xConfirmOrderPaymentResponse struct {
	XMLName xml.Name `xml:"https://mpay.gov.md/ ConfirmOrderPaymentResponse"`
}

func toXOrder(o *OrderDetails) xOrderDetails {
	x := xOrderDetails{ServiceID: o.ServiceID, OrderKey: o.OrderKey, Reason: o.Reason, Status: o.Status, IssuedAt: o.IssuedAt.UTC(),
		Currency: o.Currency, AllowPartialPayments: o.AllowPartialPayments, AllowAdvancePayments: o.AllowAdvancePayments,
		CustomerType: o.CustomerType, CustomerID: o.CustomerID, CustomerName: o.CustomerName, CustomerEmail: o.CustomerEmail}
	if o.DueDate != nil {
		d := o.DueDate.UTC()
		x.DueDate = &d
	}
	if o.TotalAmountDue != nil {
		a := decimal(*o.TotalAmountDue)
		x.TotalAmountDue = &a
	}
	for _, l := range o.Lines {
		x.Lines = append(x.Lines, xOrderLine{LineID: l.LineID, Reason: l.Reason, AmountDue: decimal(l.AmountDue), DestinationAccount: xAccount(l.DestinationAccount)})
	}
	return x
}

func (x *xOrderDetails) order() *OrderDetails {
	o := &OrderDetails{ServiceID: x.ServiceID, OrderKey: x.OrderKey, Reason: x.Reason, Status: x.Status, IssuedAt: x.IssuedAt, DueDate: x.DueDate,
		Currency: x.Currency, AllowPartialPayments: x.AllowPartialPayments, AllowAdvancePayments: x.AllowAdvancePayments,
		CustomerType: x.CustomerType, CustomerID: x.CustomerID, CustomerName: x.CustomerName, CustomerEmail: x.CustomerEmail}
	if x.TotalAmountDue != nil {
		a := int64(*x.TotalAmountDue)
		o.TotalAmountDue = &a
	}
	for _, l := range x.Lines {
		o.Lines = append(o.Lines, OrderLine{LineID: l.LineID, Reason: l.Reason, AmountDue: int64(l.AmountDue), DestinationAccount: DestinationAccount(l.DestinationAccount)})
	}
	return o
}

func toXConfirmation(c PaymentConfirmation) xConfirmation {
	x := xConfirmation{ServiceID: c.ServiceID, OrderKey: c.OrderKey, InvoiceID: c.InvoiceID, PaymentID: c.PaymentID,
		PaidAt: c.PaidAt.UTC(), TotalAmount: decimal(c.TotalAmount), Currency: c.Currency}
	for _, l := range c.Lines {
		x.Lines = append(x.Lines, xPaymentLine{LineID: l.LineID, Amount: decimal(l.Amount)})
	}
	for k, v := range c.Properties {
		x.Properties = append(x.Properties, xProperty{Name: k, Value: v})
	}
	sort.Slice(x.Properties, func(i, j int) bool { return x.Properties[i].Name < x.Properties[j].Name })
	return x
}

func (x *xConfirmation) confirmation() PaymentConfirmation {
	c := PaymentConfirmation{ServiceID: x.ServiceID, OrderKey: x.OrderKey, InvoiceID: x.InvoiceID, PaymentID: x.PaymentID,
		PaidAt: x.PaidAt, TotalAmount: int64(x.TotalAmount), Currency: x.Currency}
	for _, l := range x.Lines {
		c.Lines = append(c.Lines, ConfirmedLine{LineID: l.LineID, Amount: int64(l.Amount)})
	}
	if len(x.Properties) > 0 {
		c.Properties = map[string]string{}
		for _, p := range x.Properties {
			c.Properties[p.Name] = p.Value
		}
	}
	return c
}

// faultElement is a SOAP 1.1 Fault carrying f's code in its detail
// (ServiceFault in NSMPay): faultcode Server for InternalError (try
// again), Client for the others.
func faultElement(f *Fault) []byte {
	code := "soap:Client"
	if f.Code == FaultInternalError {
		code = "soap:Server"
	}
	el := etree.NewElement("soap:Fault")
	el.CreateAttr("xmlns:soap", NSSoap)
	el.CreateElement("faultcode").SetText(code)
	el.CreateElement("faultstring").SetText(f.Code + ": " + f.Message)
	sf := el.CreateElement("detail").CreateElement("ServiceFault")
	sf.CreateAttr("xmlns", NSMPay)
	sf.CreateElement("Code").SetText(f.Code)
	if f.Message != "" {
		sf.CreateElement("Message").SetText(f.Message)
	}
	doc := etree.NewDocument()
	doc.SetRoot(el)
	b, _ := doc.WriteToBytes()
	return b
}

// parseFault reads a soap:Fault: the code of its ServiceFault detail, or,
// without one, InternalError for a Server fault and InvalidParameter for
// a Client one.
func parseFault(el *etree.Element) *Fault {
	f := &Fault{}
	if d := el.FindElement("./detail/ServiceFault"); d != nil && d.NamespaceURI() == NSMPay {
		if c := d.FindElement("./Code"); c != nil {
			f.Code = strings.TrimSpace(c.Text())
		}
		if m := d.FindElement("./Message"); m != nil {
			f.Message = strings.TrimSpace(m.Text())
		}
	}
	fs := el.FindElement("./faultstring")
	if f.Message == "" && fs != nil {
		f.Message = strings.TrimSpace(fs.Text())
	}
	if f.Code == "" {
		f.Code = FaultInternalError
		if fc := el.FindElement("./faultcode"); fc != nil && strings.HasSuffix(strings.TrimSpace(fc.Text()), "Client") {
			f.Code = FaultInvalidParameter
		}
	}
	if len(f.Message) > 500 {
		f.Message = f.Message[:500]
	}
	return f
}

// decodeContent decodes a verified body's content element into v.
func decodeContent(el *etree.Element, v any) error {
	doc := etree.NewDocument()
	doc.SetRoot(el.Copy())
	b, err := doc.WriteToBytes()
	if err != nil {
		return err
	}
	if err := xml.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	return nil
}
