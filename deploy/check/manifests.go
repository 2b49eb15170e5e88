package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// newTyped returns an empty object of the real API type for apiVersion/kind, or nil when
// the kind is not one the chart is expected to render.
func newTyped(apiVersion, kind string) any {
	switch apiVersion + "/" + kind {
	case "apps/v1/StatefulSet":
		return &appsv1.StatefulSet{}
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}
	case "v1/Service":
		return &corev1.Service{}
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}
	case "v1/Secret":
		return &corev1.Secret{}
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}
	case "v1/Pod":
		return &corev1.Pod{}
	case "batch/v1/Job":
		return &batchv1.Job{}
	case "kubeflow.org/v1/PaddleJob":
		return &PaddleJob{}
	}
	return nil
}

// PaddleJob mirrors the fields of the Kubeflow training operator's PaddleJob
// (kubeflow.org/v1) that a chart may set: its CRD is not in k8s.io/api, so the check
// decodes it strictly into this copy, and each replica's pod template into the real
// core/v1 PodTemplateSpec.
type PaddleJob struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              PaddleJobSpec `json:"spec"`
}

type PaddleJobSpec struct {
	RunPolicy          *RunPolicy                    `json:"runPolicy,omitempty"`
	ElasticPolicy      map[string]any                `json:"elasticPolicy,omitempty"`
	PaddleReplicaSpecs map[string]*PaddleReplicaSpec `json:"paddleReplicaSpecs"`
}

type RunPolicy struct {
	CleanPodPolicy          *string        `json:"cleanPodPolicy,omitempty"`
	TTLSecondsAfterFinished *int32         `json:"ttlSecondsAfterFinished,omitempty"`
	ActiveDeadlineSeconds   *int64         `json:"activeDeadlineSeconds,omitempty"`
	BackoffLimit            *int32         `json:"backoffLimit,omitempty"`
	SchedulingPolicy        map[string]any `json:"schedulingPolicy,omitempty"`
	Suspend                 *bool          `json:"suspend,omitempty"`
	ManagedBy               *string        `json:"managedBy,omitempty"`
}

type PaddleReplicaSpec struct {
	Replicas      *int32                 `json:"replicas,omitempty"`
	Template      corev1.PodTemplateSpec `json:"template"`
	RestartPolicy string                 `json:"restartPolicy,omitempty"`
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// checkManifests strict-decodes every YAML document in data and returns them as generic
// JSON objects, with one error per problem found.
func checkManifests(data []byte) ([]map[string]any, []error) {
	var docs []map[string]any
	var errs []error
	for i, raw := range docSeparator.Split(string(data), -1) {
		if strings.TrimSpace(stripComments(raw)) == "" {
			continue
		}
		doc, err := checkOne([]byte(raw))
		if err != nil {
			errs = append(errs, fmt.Errorf("document %d (%s): %w", i, sourceOf(raw), err))
			continue
		}
		docs = append(docs, doc)
	}
	if len(docs) == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("no manifests"))
	}
	return docs, errs
}

func checkOne(raw []byte) (map[string]any, error) {
	var generic map[string]any
	if err := yaml.Unmarshal(raw, &generic); err != nil {
		return nil, err
	}
	apiVersion, _ := generic["apiVersion"].(string)
	kind, _ := generic["kind"].(string)
	if apiVersion == "" || kind == "" {
		return nil, fmt.Errorf("no apiVersion or kind")
	}
	obj := newTyped(apiVersion, kind)
	if obj == nil {
		return nil, fmt.Errorf("unexpected kind %s %s", apiVersion, kind)
	}
	// Strict: an unknown (say misspelled) or duplicated field is an error.
	if err := yaml.UnmarshalStrict(raw, obj); err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	if err := semantic(obj); err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	return generic, nil
}

// semantic catches what a strict decode lets through but a cluster would refuse.
func semantic(obj any) error {
	meta, ok := metaOf(obj)
	if !ok || meta.Name == "" {
		return fmt.Errorf("metadata.name is empty")
	}
	switch o := obj.(type) {
	case *appsv1.StatefulSet:
		if o.Spec.ServiceName == "" {
			return fmt.Errorf("spec.serviceName is empty")
		}
		return checkPod(&o.Spec.Template, o.Spec.Selector)
	case *appsv1.Deployment:
		return checkPod(&o.Spec.Template, o.Spec.Selector)
	case *batchv1.Job:
		return checkPod(&o.Spec.Template, nil)
	case *corev1.Service:
		if len(o.Spec.Ports) == 0 {
			return fmt.Errorf("no ports")
		}
	case *PaddleJob:
		if len(o.Spec.PaddleReplicaSpecs) == 0 {
			return fmt.Errorf("spec.paddleReplicaSpecs is empty")
		}
		for name, spec := range o.Spec.PaddleReplicaSpecs {
			if name != "Master" && name != "Worker" {
				return fmt.Errorf("replica type %q: want Master or Worker", name)
			}
			switch spec.RestartPolicy {
			case "", "Always", "OnFailure", "Never", "ExitCode":
			default:
				return fmt.Errorf("%s: restartPolicy %q", name, spec.RestartPolicy)
			}
			if err := checkPod(&spec.Template, nil); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	return nil
}

func metaOf(obj any) (metav1.ObjectMeta, bool) {
	b, err := json.Marshal(obj)
	if err != nil {
		return metav1.ObjectMeta{}, false
	}
	var m struct {
		Metadata metav1.ObjectMeta `json:"metadata"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return metav1.ObjectMeta{}, false
	}
	return m.Metadata, true
}

func checkPod(t *corev1.PodTemplateSpec, selector *metav1.LabelSelector) error {
	if len(t.Spec.Containers) == 0 {
		return fmt.Errorf("pod template has no containers")
	}
	if selector != nil {
		for k, v := range selector.MatchLabels {
			if t.Labels[k] != v {
				return fmt.Errorf("selector %s=%s does not match the pod template's labels", k, v)
			}
		}
	}
	volumes := map[string]bool{}
	for _, v := range t.Spec.Volumes {
		volumes[v.Name] = true
	}
	for _, c := range append(append([]corev1.Container{}, t.Spec.InitContainers...), t.Spec.Containers...) {
		if c.Name == "" || c.Image == "" {
			return fmt.Errorf("container %q: name and image are required", c.Name)
		}
		for _, m := range c.VolumeMounts {
			if !volumes[m.Name] && !strings.HasPrefix(m.Name, "checkpoints") {
				return fmt.Errorf("container %s mounts unknown volume %q", c.Name, m.Name)
			}
		}
	}
	return nil
}

func stripComments(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func sourceOf(raw string) string {
	for _, line := range strings.Split(raw, "\n") {
		if strings.HasPrefix(line, "# Source: ") {
			return strings.TrimPrefix(line, "# Source: ")
		}
	}
	return "no source"
}
