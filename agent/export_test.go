package agent

// SetOnBusy lets tests see a sign request wait for the one before it.
func SetOnBusy(a *Agent, f func()) { a.onBusy = f }
