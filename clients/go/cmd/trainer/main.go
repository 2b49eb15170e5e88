// Command trainer is an example sanas trainer in Go: it creates (or joins) a study over a
// custom token space, runs SuggestTrial / CompleteTrial with a synthetic reward until the
// budget is spent, and prints the best result.
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

// withRetry repeats a call while the controller is unavailable, with backoff.
func withRetry[T any](call func(ctx context.Context) (T, error)) (T, error) {
	delay := 100 * time.Millisecond
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := call(ctx)
		cancel()
		if err == nil || !sanas.IsRetryable(err) || attempt == 8 {
			return out, err
		}
		time.Sleep(delay)
		delay *= 2
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8881", "controller address host:port")
	studyID := flag.String("study", "go-example", "study to create or join")
	steps := flag.Int64("steps", 50, "search_steps of the study")
	flag.Parse()

	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
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
	_, err = withRetry(func(ctx context.Context) (*sanasv1.CreateStudyResponse, error) {
		return client.CreateStudy(ctx, &sanasv1.CreateStudyRequest{StudyId: *studyID, Config: config})
	})
	if status.Code(err) == codes.AlreadyExists {
		log.Fatalf("study %q exists with another config: %v", *studyID, status.Convert(err).Message())
	} else if err != nil {
		log.Fatalf("create study: %v", err)
	}

	suggested, err := withRetry(func(ctx context.Context) (*sanasv1.SuggestTrialResponse, error) {
		return client.SuggestTrial(ctx, &sanasv1.SuggestTrialRequest{StudyId: *studyID, ClientId: "go-trainer"})
	})
	trial := suggested.GetTrial()
	completed := 0
	for err == nil && trial != nil {
		var done *sanasv1.CompleteTrialResponse
		done, err = withRetry(func(ctx context.Context) (*sanasv1.CompleteTrialResponse, error) {
			return client.CompleteTrial(ctx, &sanasv1.CompleteTrialRequest{
				StudyId: *studyID, TrialId: trial.GetTrialId(), Reward: reward(trial.GetTokens()),
				SuggestNext: true, ClientId: "go-trainer",
			})
		})
		if err == nil {
			completed++
			trial = done.GetNextTrial() // nil once the budget is spent
		}
	}
	if err != nil && !sanas.IsSearchFinished(err) {
		log.Fatalf("search failed (%s): %v", sanas.Reason(err), err)
	}

	study, err := withRetry(func(ctx context.Context) (*sanasv1.GetStudyResponse, error) {
		return client.GetStudy(ctx, &sanasv1.GetStudyRequest{StudyId: *studyID})
	})
	if err != nil {
		log.Fatalf("get study: %v", err)
	}
	s := study.GetStudy()
	fmt.Printf("completed %d trials; study %s: best reward %g, best tokens %v\n",
		completed, s.GetState(), s.GetBestReward(), s.GetBestTokens())
	os.Exit(0)
}
