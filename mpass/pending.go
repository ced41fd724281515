package mpass

import (
	"context"
	"errors"
	"time"

	"github.com/semnat/semnat/store"
)

// kindInstance is each instance's heartbeat: the time it last said it is
// alive, kept for three beats. An instance that waits for phones beats
// once per Heartbeat whatever the number of logins it waits for; a login
// whose owner's heartbeat is gone may be taken over by another instance
// (takeOver).
//
// Before, each waiting login had a heartbeat goroutine of its own that
// rewrote the login every Heartbeat: two goroutines per pending login, and
// 2,000 store writes a second for 10,000 logins waiting for phones.
const kindInstance = "mpass.instance"

// startBeat starts the instance's heartbeat (once; it stops with Close).
func (s *Service) startBeat() {
	s.beatOnce.Do(func() {
		s.beat(s.bg)
		s.bgWG.Add(1)
		go func() {
			defer s.bgWG.Done()
			t := time.NewTicker(s.cfg.Heartbeat)
			defer t.Stop()
			for {
				select {
				case <-s.bg.Done():
					return
				case <-t.C:
					s.beat(s.bg)
				}
			}
		}()
	})
}

func (s *Service) beat(ctx context.Context) {
	now := s.cfg.Now().UTC()
	b, _ := now.MarshalText()
	if err := s.cfg.Store.Put(ctx, kindInstance, s.instance, b, 3*s.cfg.Heartbeat); err != nil && ctx.Err() == nil {
		s.cfg.Log.Warn("mpass: the instance's heartbeat was not recorded", "err", err)
	}
}

// ownerAlive tells whether the instance owner beat within the last three
// beats. When the store cannot say, it answers true: a wait is taken over
// only when its owner is known to be gone.
func (s *Service) ownerAlive(ctx context.Context, owner string) bool {
	if owner == s.instance {
		return s.bg.Err() == nil
	}
	b, err := s.cfg.Store.Get(ctx, kindInstance, owner)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExpired) {
		return false
	}
	var at time.Time
	if err != nil || at.UnmarshalText(b) != nil {
		return err != nil
	}
	return s.cfg.Now().Sub(at) <= 3*s.cfg.Heartbeat
}
