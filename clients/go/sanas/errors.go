// Package sanas holds small helpers for clients of sanas.v1.ControllerService: the
// error reason a status carries, and whether a search has finished.
package sanas

import (
	"errors"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sanas-nas/sanas/clients/go/sanasv1"
)

// ErrorDomain is the google.rpc.ErrorInfo domain of sanas errors.
const ErrorDomain = "sanas.v1"

// Reason returns the sanas.v1.ErrorReason attached to an error from the controller,
// or ERROR_REASON_UNSPECIFIED when it carries none.
func Reason(err error) sanasv1.ErrorReason {
	st, ok := status.FromError(err)
	if !ok {
		return sanasv1.ErrorReason_ERROR_REASON_UNSPECIFIED
	}
	for _, detail := range st.Details() {
		if info, ok := detail.(*errdetails.ErrorInfo); ok && info.GetDomain() == ErrorDomain {
			return sanasv1.ErrorReason(sanasv1.ErrorReason_value[info.GetReason()])
		}
	}
	return sanasv1.ErrorReason_ERROR_REASON_UNSPECIFIED
}

// IsSearchFinished reports whether the error says that no trial is left to issue.
func IsSearchFinished(err error) bool {
	switch Reason(err) {
	case sanasv1.ErrorReason_ERROR_REASON_BUDGET_EXHAUSTED,
		sanasv1.ErrorReason_ERROR_REASON_SPACE_EXHAUSTED:
		return true
	}
	return false
}

// IsRetryable reports whether the call may succeed when repeated later (the controller
// restarting, or unable to write its checkpoint for a while).
func IsRetryable(err error) bool {
	var st interface{ GRPCStatus() *status.Status }
	if !errors.As(err, &st) {
		return false
	}
	code := st.GRPCStatus().Code()
	return code == codes.Unavailable || code == codes.DeadlineExceeded
}

// IsTrialLost reports whether the error says that the trial is no longer the caller's to
// train: its lease ran out and another trainer holds it now (TRIAL_NOT_HELD), or that
// trainer already completed it (TRIAL_ALREADY_COMPLETED), or the study no longer has it
// at all (STALE_TRIAL, see IsTrialStale). Stop training it and ask for a new trial.
func IsTrialLost(err error) bool {
	switch Reason(err) {
	case sanasv1.ErrorReason_ERROR_REASON_TRIAL_NOT_HELD,
		sanasv1.ErrorReason_ERROR_REASON_TRIAL_ALREADY_COMPLETED,
		sanasv1.ErrorReason_ERROR_REASON_STALE_TRIAL:
		return true
	}
	return false
}

// IsTrialStale reports whether the call was refused because the study no longer has the
// trial it is bound to (STALE_TRIAL): the study was deleted and created again since the
// trial was issued, or its checkpoint folder was restored from a backup and the trial has
// other tokens now. Nothing was recorded: drop the trial's result and ask for a new trial.
func IsTrialStale(err error) bool {
	return Reason(err) == sanasv1.ErrorReason_ERROR_REASON_STALE_TRIAL
}
