// Command sanas-deploy-check checks the deployment files of sanas without a cluster:
//
//	sanas-deploy-check manifests FILE|-     strict-decode rendered Kubernetes manifests into
//	                                        the real k8s.io/api types; prints them as JSON
//	sanas-deploy-check dockerfile FILE...   BuildKit's Dockerfile lint (docker build --check)
//
// Both exit 1 when they find a problem.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: sanas-deploy-check manifests FILE|- | dockerfile FILE...")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "manifests":
		os.Exit(runManifests(os.Args[2]))
	case "dockerfile":
		os.Exit(runDockerfiles(os.Args[2:]))
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}

func runManifests(path string) int {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	docs, errs := checkManifests(data)
	for _, e := range errs {
		fmt.Fprintln(os.Stderr, e)
	}
	if len(errs) > 0 {
		return 1
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(docs); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return 0
}

func runDockerfiles(paths []string) int {
	total := 0
	for _, p := range paths {
		n, err := lintDockerfile(p, os.Stdout)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", p, err)
			return 2
		}
		total += n
	}
	if total > 0 {
		fmt.Fprintf(os.Stdout, "%d problem(s)\n", total)
		return 1
	}
	return 0
}
