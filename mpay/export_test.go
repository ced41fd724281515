package mpay

import "context"

// StopJobs stops this instance's job workers, the rest of MPay going on;
// StartJobs starts them again. For the tests that choose which of two
// instances sharing a store runs a job.
func (s *Service) StopJobs(ctx context.Context) error { return s.queue.Stop(ctx) }

// StartJobs starts the job workers StopJobs stopped.
func (s *Service) StartJobs(ctx context.Context) error { return s.queue.Start(ctx) }
