// Command trainer is an example sanas trainer in Go: it creates (or joins) a study over a
// custom token space, runs SuggestTrial / CompleteTrial with a synthetic reward until the
// budget is spent, and prints the best result. While a trial "trains" (--train-seconds,
// to simulate a real training step) it heartbeats the trial three times per lease, and
// after each of --epochs epochs it reports the trial's progress (ReportTrialProgress),
// stopping the trial early when the study's stopping rule says so. A trial whose lease ran
// out and went to another trainer (TRIAL_NOT_HELD) is left to it. With
// --median-stop-start E a study it creates stops trials by the median rule from epoch E.
//
// Every call about a trial carries the trial's study_uid and fingerprint, so a study
// created again or restored from a backup meanwhile refuses it (STALE_TRIAL) and the
// trainer drops that trial for a new one. Calls are retried through a controller outage
// for up to --retry-timeout (600 s, as the Python client), with a warning per wait;
// SuggestTrial and CompleteTrial carry a request_id kept across their retries (AIP-155),
// so a lost response never issues a second trial.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/sanas-nas/sanas/clients/go/sanas"
	"github.com/sanas-nas/sanas/clients/go/sanasv1"
)

// reward is a synthetic score with its optimum at every token = 4.
func reward(tokens []int32) float64 {
	var s float64
	for _, t := range tokens {
		d := float64(t - 4)
		s -= d * d
	}
	return s
}

// curve is the synthetic value after epoch k of epochs: rising to the reward at the end.
func curve(tokens []int32, k, epochs int64) float64 {
	return reward(tokens) - float64(epochs-k)
}

// keepAlive renews a trial's lease every interval from a goroutine until the returned
// stop is called; stop waits for the goroutine, so no beat outlives the trial's report.
// Each beat is bound to the trial (its study_uid and fingerprint).
func keepAlive(client sanasv1.ControllerServiceClient, clientID string, trial *sanasv1.Trial,
	interval time.Duration) (stop func()) {
	trialID := trial.GetTrialId()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
			// A beat that takes longer than an interval is replaced by the next one.
			beat, cancelBeat := context.WithTimeout(ctx, interval)
			_, err := client.HeartbeatTrial(beat, &sanasv1.HeartbeatTrialRequest{
				StudyId: trial.GetStudyId(), TrialId: trialID, ClientId: clientID,
				StudyUid: trial.GetStudyUid(), TrialFingerprint: trial.GetFingerprint(),
			})
			cancelBeat()
			switch {
			case err == nil || ctx.Err() != nil:
			case sanas.Reason(err) == sanasv1.ErrorReason_ERROR_REASON_TRIAL_ALREADY_COMPLETED:
				return // reported (by us, or by another trainer after our lease ran out)
			case sanas.IsTrialStale(err):
				return // the study no longer has it: the trainer's next call finds out too
			default: // keep beating: the controller may be restarting
				log.Printf("warning: heartbeat of trial %d failed: %v", trialID, err)
			}
		}
	}()
	return func() { cancel(); <-done }
}

// train "trains" a trial for epochs epochs over trainSeconds, reporting its value after
// each, and returns its last value and the epoch it ended at: epochs, or earlier when the
// study's stopping rule said to stop (then stopped is the trial as the controller returned
// it, with its stop_reason).
func train(client sanasv1.ControllerServiceClient, retry sanas.RetryPolicy, clientID string,
	trial *sanasv1.Trial, epochs int64, trainSeconds float64,
) (value float64, epoch int64, stopped *sanasv1.Trial, err error) {
	for epoch = 1; epoch <= epochs; epoch++ {
		time.Sleep(time.Duration(trainSeconds / float64(epochs) * float64(time.Second)))
		value = curve(trial.GetTokens(), epoch, epochs)
		report := func(ctx context.Context) (*sanasv1.ReportTrialProgressResponse, error) {
			// A retry repeats the same step and value, which the controller answers as
			// the first time (ReportTrialProgress is idempotent).
			return client.ReportTrialProgress(ctx, &sanasv1.ReportTrialProgressRequest{
				StudyId: trial.GetStudyId(), TrialId: trial.GetTrialId(), Step: epoch, Value: value,
				MaxStep: epochs, ClientId: clientID,
				StudyUid: trial.GetStudyUid(), TrialFingerprint: trial.GetFingerprint(),
			})
		}
		var progress *sanasv1.ReportTrialProgressResponse
		if progress, err = sanas.Retry(retry, "ReportTrialProgress", report); err != nil {
			return value, epoch, nil, err
		}
		if progress.GetShouldStop() {
			return value, epoch, progress.GetTrial(), nil // break out of the epochs
		}
	}
	return value, epochs, nil, nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8881", "controller address host:port")
	studyID := flag.String("study", "go-example", "study to create or join")
	steps := flag.Int64("steps", 50, "search_steps of the study")
	leaseSeconds := flag.Float64("lease-seconds", 0,
		"lease_duration of a new study (0: the controller's default)")
	trainSeconds := flag.Float64("train-seconds", 0,
		"seconds each trial \"trains\" before its reward is reported")
	clientID := flag.String("client-id", "go-trainer", "name recorded with this trainer's trials")
	epochs := flag.Int64("epochs", 5,
		"epochs per trial (--train-seconds split evenly); progress is reported after each")
	medianStart := flag.Int64("median-stop-start", -1,
		"a new study stops trials by the median rule from this epoch (-1: no early stopping)")
	retryTimeout := flag.Float64("retry-timeout", sanas.DefaultRetryTimeout.Seconds(),
		"seconds a call is retried while the controller is unavailable")
	flag.Parse()
	if *epochs < 1 {
		log.Fatalf("--epochs %d: must be at least 1", *epochs)
	}
	retry := sanas.RetryPolicy{Timeout: time.Duration(*retryTimeout * float64(time.Second))}

	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		sanas.QuickReconnect())
	if err != nil {
		log.Fatalf("connect %s: %v", *addr, err)
	}
	defer conn.Close()
	client := sanasv1.NewControllerServiceClient(conn)

	config := &sanasv1.StudyConfig{
		SearchSpaces: []*sanasv1.SearchSpaceConfig{{Key: "custom", RangeTable: []int32{9, 9, 9, 9, 9, 9}}},
		SearchSteps:  *steps,
		Seed:         proto.Uint64(1),
	}
	if *medianStart >= 0 {
		config.EarlyStopping = &sanasv1.EarlyStopping{Rule: &sanasv1.EarlyStopping_Median{
			Median: &sanasv1.MedianStoppingRule{StartStep: *medianStart, MinTrials: 2},
		}}
	}
	if *leaseSeconds > 0 {
		config.LeaseDuration = durationpb.New(time.Duration(*leaseSeconds * float64(time.Second)))
	}
	created, err := sanas.Retry(retry, "CreateStudy", func(ctx context.Context) (*sanasv1.CreateStudyResponse, error) {
		return client.CreateStudy(ctx, &sanasv1.CreateStudyRequest{StudyId: *studyID, Config: config})
	})
	if status.Code(err) == codes.AlreadyExists {
		log.Fatalf("study %q exists with another config: %v", *studyID, status.Convert(err).Message())
	} else if err != nil {
		log.Fatalf("create study: %v", err)
	}
	// Three heartbeats per lease (the study's, which may be another trainer's choice), so
	// one lost beat does not cost the trial.
	lease := created.GetStudy().GetConfig().GetLeaseDuration().AsDuration()
	if lease <= 0 {
		log.Fatalf("study %q: the controller reported no lease_duration", *studyID)
	}
	interval := lease / 3

	suggest := func() (*sanasv1.Trial, error) {
		// One id for the call and all its retries: a retry after a lost answer gets the
		// trial the first attempt issued, not a second one.
		request := &sanasv1.SuggestTrialRequest{
			StudyId: *studyID, ClientId: *clientID, RequestId: sanas.NewRequestID(),
		}
		suggested, err := sanas.Retry(retry, "SuggestTrial", func(ctx context.Context) (*sanasv1.SuggestTrialResponse, error) {
			return client.SuggestTrial(ctx, request)
		})
		return suggested.GetTrial(), err
	}
	trial, err := suggest()
	completed, stopped, saved := 0, 0, int64(0)
	for err == nil && trial != nil {
		stop := keepAlive(client, *clientID, trial, interval)
		var value float64
		var epoch int64
		var stoppedTrial *sanasv1.Trial
		value, epoch, stoppedTrial, err = train(
			client, retry, *clientID, trial, *epochs, *trainSeconds)
		if stoppedTrial != nil {
			fmt.Printf("trial %d stopped after epoch %d of %d: %s\n",
				trial.GetTrialId(), epoch, *epochs, stoppedTrial.GetStopReason())
			stopped++
			saved += *epochs - epoch
		}
		var done *sanasv1.CompleteTrialResponse
		if err == nil {
			// A stopped trial is finished already; completing it anyway with its last value
			// (as a PaddleSlim script's reward() after `break` does) is accepted, changes
			// nothing, and asks for the next trial in the same call.
			// Bound to the trial, and one request id across retries: a retry after a lost
			// answer gets the first answer, with the same next trial.
			request := &sanasv1.CompleteTrialRequest{
				StudyId: *studyID, TrialId: trial.GetTrialId(), Reward: value,
				SuggestNext: true, ClientId: *clientID, RequestId: sanas.NewRequestID(),
				StudyUid: trial.GetStudyUid(), TrialFingerprint: trial.GetFingerprint(),
			}
			done, err = sanas.Retry(retry, "CompleteTrial", func(ctx context.Context) (*sanasv1.CompleteTrialResponse, error) {
				return client.CompleteTrial(ctx, request)
			})
		}
		stop() // after the report: the lease is kept while CompleteTrial is retried
		switch {
		case err == nil:
			completed++
			trial = done.GetNextTrial() // nil once the budget is spent
		case sanas.IsTrialStale(err):
			// The study was created again, or restored from a backup, since the trial was
			// issued: its result was not recorded anywhere. Drop it and train a new one.
			log.Printf("trial %d: dropped, the study no longer has it (%s): %s", trial.GetTrialId(),
				sanas.Reason(err), status.Convert(err).Message())
			trial, err = suggest()
		case sanas.IsTrialLost(err):
			// Our lease ran out (the trainer was paused, or cut off from the controller) and
			// another trainer has the trial now: leave it to them and train a new one.
			log.Printf("trial %d: left to another trainer (%s)", trial.GetTrialId(), sanas.Reason(err))
			trial, err = suggest()
		}
	}
	if err != nil && !sanas.IsSearchFinished(err) {
		log.Fatalf("search failed (%s): %v", sanas.Reason(err), err)
	}

	study, err := sanas.Retry(retry, "GetStudy", func(ctx context.Context) (*sanasv1.GetStudyResponse, error) {
		return client.GetStudy(ctx, &sanasv1.GetStudyRequest{StudyId: *studyID})
	})
	if err != nil {
		log.Fatalf("get study: %v", err)
	}
	s := study.GetStudy()
	fmt.Printf("completed %d trials; study %s: best reward %g, best tokens %v\n",
		completed, s.GetState(), s.GetBestReward(), s.GetBestTokens())
	fmt.Printf("stopped early: %d trials, %d epochs saved\n", stopped, saved)
	os.Exit(0)
}
