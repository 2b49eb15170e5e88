package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
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
	case "networking.k8s.io/v1/NetworkPolicy":
		return &networkingv1.NetworkPolicy{}
	case "policy/v1/PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}
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
// JSON objects, with one error per problem found. Then it checks what spans documents:
// every NetworkPolicy selects pods the render has, with ports they declare, and every
// PodDisruptionBudget selects pods the render has.
func checkManifests(data []byte) ([]map[string]any, []error) {
	var docs []map[string]any
	var typed []any
	var errs []error
	for i, raw := range docSeparator.Split(string(data), -1) {
		if strings.TrimSpace(stripComments(raw)) == "" {
			continue
		}
		doc, obj, err := checkOne([]byte(raw))
		if err != nil {
			errs = append(errs, fmt.Errorf("document %d (%s): %w", i, sourceOf(raw), err))
			continue
		}
		docs = append(docs, doc)
		typed = append(typed, obj)
	}
	if len(docs) == 0 && len(errs) == 0 {
		errs = append(errs, fmt.Errorf("no manifests"))
	}
	errs = append(errs, checkNetworkPolicies(typed)...)
	errs = append(errs, checkDisruptionBudgets(typed)...)
	return docs, errs
}

func checkOne(raw []byte) (map[string]any, any, error) {
	var generic map[string]any
	if err := yaml.Unmarshal(raw, &generic); err != nil {
		return nil, nil, err
	}
	apiVersion, _ := generic["apiVersion"].(string)
	kind, _ := generic["kind"].(string)
	if apiVersion == "" || kind == "" {
		return nil, nil, fmt.Errorf("no apiVersion or kind")
	}
	obj := newTyped(apiVersion, kind)
	if obj == nil {
		return nil, nil, fmt.Errorf("unexpected kind %s %s", apiVersion, kind)
	}
	// Strict: an unknown (say misspelled) or duplicated field is an error.
	if err := yaml.UnmarshalStrict(raw, obj); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", kind, err)
	}
	if err := semantic(obj); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", kind, err)
	}
	return generic, obj, nil
}

// podTemplates returns the pod templates of the rendered workloads.
func podTemplates(objs []any) []*corev1.PodTemplateSpec {
	var out []*corev1.PodTemplateSpec
	for _, obj := range objs {
		switch o := obj.(type) {
		case *appsv1.StatefulSet:
			out = append(out, &o.Spec.Template)
		case *appsv1.Deployment:
			out = append(out, &o.Spec.Template)
		case *batchv1.Job:
			out = append(out, &o.Spec.Template)
		case *corev1.Pod: // a bare pod, such as a `helm test` hook
			out = append(out, &corev1.PodTemplateSpec{ObjectMeta: o.ObjectMeta, Spec: o.Spec})
		case *PaddleJob:
			for _, spec := range o.Spec.PaddleReplicaSpecs {
				out = append(out, &spec.Template)
			}
		}
	}
	return out
}

// checkDisruptionBudgets catches a budget whose selector (a label typo) matches no
// rendered pod, so that it protects nothing.
func checkDisruptionBudgets(objs []any) []error {
	templates := podTemplates(objs)
	var errs []error
	for _, obj := range objs {
		pdb, ok := obj.(*policyv1.PodDisruptionBudget)
		if !ok {
			continue
		}
		where := "PodDisruptionBudget " + pdb.Name
		if pdb.Spec.Selector == nil || (len(pdb.Spec.Selector.MatchLabels) == 0 && len(pdb.Spec.Selector.MatchExpressions) == 0) {
			errs = append(errs, fmt.Errorf("%s: spec.selector is empty", where))
			continue
		}
		if (pdb.Spec.MinAvailable == nil) == (pdb.Spec.MaxUnavailable == nil) {
			errs = append(errs, fmt.Errorf("%s: set exactly one of minAvailable and maxUnavailable", where))
		}
		guarded, err := selected(pdb.Spec.Selector, templates)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: selector: %w", where, err))
		} else if len(guarded) == 0 {
			errs = append(errs, fmt.Errorf("%s: selector selects no rendered pod", where))
		}
	}
	return errs
}

// selected returns the templates whose labels the selector matches.
func selected(sel *metav1.LabelSelector, templates []*corev1.PodTemplateSpec) ([]*corev1.PodTemplateSpec, error) {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return nil, err
	}
	var out []*corev1.PodTemplateSpec
	for _, t := range templates {
		if s.Matches(labels.Set(t.Labels)) {
			out = append(out, t)
		}
	}
	return out, nil
}

func declaresPort(t *corev1.PodTemplateSpec, name string) bool {
	for _, c := range t.Spec.Containers {
		for _, p := range c.Ports {
			if p.Name == name {
				return true
			}
		}
	}
	return false
}

// checkNetworkPolicies catches a policy that a label or port typo makes select nothing
// (which would silently let nothing in, or guard no pod): its pods exist in the render,
// its named ports are declared by them, and each peer chosen by pod labels alone (same
// namespace) selects a rendered pod.
func checkNetworkPolicies(objs []any) []error {
	templates := podTemplates(objs)
	var errs []error
	for _, obj := range objs {
		np, ok := obj.(*networkingv1.NetworkPolicy)
		if !ok {
			continue
		}
		where := "NetworkPolicy " + np.Name
		guarded, err := selected(&np.Spec.PodSelector, templates)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: podSelector: %w", where, err))
			continue
		}
		if len(guarded) == 0 {
			errs = append(errs, fmt.Errorf("%s: podSelector selects no rendered pod", where))
		}
		for i, rule := range np.Spec.Ingress {
			for _, port := range rule.Ports {
				if port.Port == nil || port.Port.Type != intstr.String { // a number needs no check
					continue
				}
				for _, t := range guarded {
					if !declaresPort(t, port.Port.StrVal) {
						errs = append(errs, fmt.Errorf("%s: ingress %d: port %q is not declared by the pods it guards", where, i, port.Port.StrVal))
						break
					}
				}
			}
			for j, peer := range rule.From {
				if peer.PodSelector == nil || peer.NamespaceSelector != nil {
					continue
				}
				peers, err := selected(peer.PodSelector, templates)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: ingress %d from %d: %w", where, i, j, err))
				} else if len(peers) == 0 {
					errs = append(errs, fmt.Errorf("%s: ingress %d from %d: podSelector selects no rendered pod", where, i, j))
				}
			}
		}
	}
	return errs
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
	case *corev1.Pod:
		return checkPod(&corev1.PodTemplateSpec{ObjectMeta: o.ObjectMeta, Spec: o.Spec}, nil)
	case *corev1.Service:
		if len(o.Spec.Ports) == 0 {
			return fmt.Errorf("no ports")
		}
	case *networkingv1.NetworkPolicy:
		if len(o.Spec.PolicyTypes) == 0 {
			return fmt.Errorf("spec.policyTypes is empty")
		}
		if len(o.Spec.PodSelector.MatchLabels) == 0 && len(o.Spec.PodSelector.MatchExpressions) == 0 {
			return fmt.Errorf("spec.podSelector is empty: it would apply to every pod of the namespace")
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
		if err := checkProbePorts(c); err != nil {
			return err
		}
	}
	return nil
}

// checkProbePorts: a probe that names its port must name one the container declares (a
// typo there is a probe that always fails, and a container restarted forever).
func checkProbePorts(c corev1.Container) error {
	declared := map[string]bool{}
	for _, p := range c.Ports {
		declared[p.Name] = true
	}
	for kind, probe := range map[string]*corev1.Probe{
		"startupProbe": c.StartupProbe, "livenessProbe": c.LivenessProbe, "readinessProbe": c.ReadinessProbe,
	} {
		if probe == nil {
			continue
		}
		var port *intstr.IntOrString
		if probe.HTTPGet != nil {
			port = &probe.HTTPGet.Port
		} else if probe.TCPSocket != nil {
			port = &probe.TCPSocket.Port
		}
		if port != nil && port.Type == intstr.String && !declared[port.StrVal] {
			return fmt.Errorf("container %s: %s port %q is not one of its ports", c.Name, kind, port.StrVal)
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
