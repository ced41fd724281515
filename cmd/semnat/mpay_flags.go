package main

import (
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/semnat/semnat/mpay"
)

// mpayTimeFlags are MPay's time limits of `semnat mpay serve`: how long a
// call of an SP may take, and how long a payment whose processor answer
// was lost (the process stopped mid-payment) keeps its invoice pending.
type mpayTimeFlags struct{ callTimeout, answerGrace time.Duration }

func (t *mpayTimeFlags) register(fl *pflag.FlagSet) {
	fl.DurationVar(&t.callTimeout, "call-timeout", 15*time.Second, "how long one call of a service provider (order pull, confirmation) may take")
	fl.DurationVar(&t.answerGrace, "answer-grace", 30*time.Second,
		"how long past the card processor's time-out a payment may stay unanswered (MPay stopped mid-payment) before it is failed and its invoice payable again")
}

func (t *mpayTimeFlags) apply(c *mpay.Config, data string) {
	c.CallTimeout, c.AnswerGrace = t.callTimeout, t.answerGrace
	c.Instance = instanceName(data)
}

// instanceName names this server among those sharing a store, the same
// across its restarts: its host and data directory (one server per data
// directory).
func instanceName(data string) string {
	host, _ := os.Hostname()
	if abs, err := filepath.Abs(data); err == nil {
		data = abs
	}
	return host + ":" + data
}
