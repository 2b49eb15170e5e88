package sanas

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/status"
)

// DefaultRetryTimeout is how long Retry keeps retrying a call the controller cannot take:
// 600 s, as the Python client's retry_timeout, so a trainer in any language rides
// through the same controller restart.
const DefaultRetryTimeout = 600 * time.Second

// Backoff between retries: from 100 ms, doubling, at most 5 s apart (the Python client's).
const (
	firstRetryDelay = 100 * time.Millisecond
	maxRetryDelay   = 5 * time.Second
)

// RetryPolicy says how Retry repeats a call that failed with UNAVAILABLE or
// DEADLINE_EXCEEDED (see IsRetryable).
type RetryPolicy struct {
	// Timeout is how long to keep retrying; 0 means DefaultRetryTimeout.
	Timeout time.Duration
	// CallTimeout is the deadline of each attempt; 0 means 30 s.
	CallTimeout time.Duration
	// Logf receives one warning per wait; nil means log.Printf.
	Logf func(format string, args ...any)
}

// Retry runs call until it succeeds, fails with an error that is not retryable, or the
// policy's Timeout would pass during the next wait, backing off from 100 ms to 5 s and
// logging every wait as a warning. A call that changes the study must carry a request_id
// chosen once, before Retry (NewRequestID), so that a retry after a lost response gets
// the first answer instead of issuing a second trial or result (AIP-155).
func Retry[T any](policy RetryPolicy, what string, call func(ctx context.Context) (T, error)) (T, error) {
	timeout, callTimeout, logf := policy.Timeout, policy.CallTimeout, policy.Logf
	if timeout <= 0 {
		timeout = DefaultRetryTimeout
	}
	if callTimeout <= 0 {
		callTimeout = 30 * time.Second
	}
	if logf == nil {
		logf = log.Printf
	}
	deadline := time.Now().Add(timeout)
	delay := firstRetryDelay
	for {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		out, err := call(ctx)
		cancel()
		if err == nil || !IsRetryable(err) || time.Now().Add(delay).After(deadline) {
			return out, err
		}
		logf("warning: %s: controller unavailable (%s: %s); retrying in %v, for up to %v in all",
			what, status.Code(err), status.Convert(err).Message(), delay, timeout)
		time.Sleep(delay)
		delay = min(delay*2, maxRetryDelay)
	}
}

// NewRequestID returns a fresh AIP-155 request id (128 random bits in hex, as the Python
// client's uuid4().hex). Choose one per logical call and reuse it on every retry.
func NewRequestID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// QuickReconnect is a dial option that reconnects within about a second once a restarted
// controller listens again (gRPC's default backoff grows to two minutes, which would
// keep a trainer idle long after the controller is back), as the Python client does.
func QuickReconnect() grpc.DialOption {
	return grpc.WithConnectParams(grpc.ConnectParams{
		Backoff: backoff.Config{
			BaseDelay:  100 * time.Millisecond,
			Multiplier: 1.6,
			Jitter:     0.2,
			MaxDelay:   time.Second,
		},
		MinConnectTimeout: 5 * time.Second,
	})
}
