package mpay

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are MPay's own: payments by instrument and outcome, and the
// confirmation attempts by result.
type metrics struct {
	payments      *prometheus.CounterVec
	confirmations *prometheus.CounterVec
}

func newMetrics() *metrics {
	return &metrics{
		payments: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "semnat", Subsystem: "mpay", Name: "payments_total",
			Help: "Payments settled, by instrument (card, ebanking, cash) and outcome (approved, declined)."}, []string{"instrument", "outcome"}),
		confirmations: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "semnat", Subsystem: "mpay", Name: "confirmations_total",
			Help: "ConfirmOrderPayment attempts, by result: acknowledged, or failed (retried later)."}, []string{"result"}),
	}
}

// RegisterMetrics registers MPay's metrics on the host's registry
// (service.Host.Mount calls it).
func (s *Service) RegisterMetrics(reg prometheus.Registerer) error {
	return errors.Join(reg.Register(s.m.payments), reg.Register(s.m.confirmations))
}
