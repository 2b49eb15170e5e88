package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	digest "github.com/opencontainers/go-digest"
)

// offlineResolver stands in for a registry: no registry is reachable here, so every base
// image "resolves" to an empty linux/amd64 config with the usual PATH. The lint rules that
// need the base image (platform, undefined variables) then see a plausible image.
type offlineResolver struct{}

func (offlineResolver) ResolveImageConfig(
	_ context.Context, ref string, _ sourceresolver.Opt,
) (string, digest.Digest, []byte, error) {
	cfg := map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"config": map[string]any{
			"Env": []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		},
	}
	dt, err := json.Marshal(cfg)
	if err != nil {
		return "", "", nil, err
	}
	return ref, digest.FromBytes(dt), dt, nil
}

// lintDockerfile runs BuildKit's Dockerfile checks (what `docker build --check` runs) on
// one file and reports every warning and any build error. It returns the number of
// problems found.
func lintDockerfile(path string, out io.Writer) (int, error) {
	dt, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	src := llb.Local("dockerfile")
	def, err := src.Marshal(context.Background())
	if err != nil {
		return 0, err
	}
	smap := llb.NewSourceMap(&src, path, "Dockerfile", dt)
	smap.Definition = def
	opt := dockerfile2llb.ConvertOpt{
		MetaResolver: offlineResolver{},
		SourceMap:    smap,
	}
	res, err := dockerfile2llb.DockerfileLint(context.Background(), dt, opt)
	if err != nil {
		return 0, err
	}
	problems := 0
	for _, w := range res.Warnings {
		line := 0
		if w.Location != nil && len(w.Location.Ranges) > 0 {
			line = int(w.Location.Ranges[0].Start.Line)
		}
		fmt.Fprintf(out, "%s:%d: %s: %s\n", path, line, w.RuleName, w.Detail)
		problems++
	}
	if res.Error != nil {
		fmt.Fprintf(out, "%s: error: %s\n", path, res.Error.Message)
		problems++
	}
	return problems, nil
}
