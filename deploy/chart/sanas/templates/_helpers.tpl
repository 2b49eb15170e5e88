{{/* Chart name, overridable. */}}
{{- define "sanas.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* "<release>-<chart>" unless the release name already holds the chart name. */}}
{{- define "sanas.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "sanas.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "sanas.labels" -}}
helm.sh/chart: {{ include "sanas.chart" . }}
app.kubernetes.io/name: {{ include "sanas.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels; call with (dict "ctx" $ "component" "controller"). */}}
{{- define "sanas.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sanas.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "sanas.controllerName" -}}
{{- include "sanas.fullname" . -}}
{{- end -}}

{{- define "sanas.headlessName" -}}
{{- printf "%s-headless" (include "sanas.fullname" . | trunc 54 | trimSuffix "-") -}}
{{- end -}}

{{/* host:port trainers and the dashboard dial. */}}
{{- define "sanas.controllerAddress" -}}
{{- printf "%s.%s.svc:%d" (include "sanas.controllerName" .) .Release.Namespace (int .Values.controller.grpcPort) -}}
{{- end -}}

{{/* image reference; call with (dict "ctx" $ "image" .Values.x.image). */}}
{{- define "sanas.image" -}}
{{- printf "%s:%s" .image.repository (default .ctx.Chart.AppVersion .image.tag) -}}
{{- end -}}

{{- define "sanas.probeServerName" -}}
{{- default (printf "%s.%s.svc" (include "sanas.controllerName" .) .Release.Namespace) .Values.tls.probeServerName -}}
{{- end -}}

{{- define "sanas.nproc" -}}
{{- if gt (int .Values.trainers.nprocPerNode) 0 -}}
{{- int .Values.trainers.nprocPerNode -}}
{{- else if gt (int .Values.trainers.gpusPerWorker) 0 -}}
{{- int .Values.trainers.gpusPerWorker -}}
{{- else -}}
1
{{- end -}}
{{- end -}}

{{/* "true" when the controller serves TLS / wants a token, "" otherwise (insecure: true
turns both off). */}}
{{- define "sanas.tlsOn" -}}
{{- if and .Values.tls.enabled (not .Values.insecure) -}}true{{- end -}}
{{- end -}}

{{- define "sanas.authOn" -}}
{{- if and .Values.auth.enabled (not .Values.insecure) -}}true{{- end -}}
{{- end -}}

{{/* The Secrets in use: the ones named in the values, or the ones the chart generates. */}}
{{- define "sanas.tlsSecretName" -}}
{{- default (printf "%s-tls" (include "sanas.fullname" .)) .Values.tls.secretName -}}
{{- end -}}

{{- define "sanas.authSecretName" -}}
{{- default (printf "%s-token" (include "sanas.fullname" .)) .Values.auth.secretName -}}
{{- end -}}

{{- define "sanas.dashboardTokenSecretName" -}}
{{- default (printf "%s-dashboard-token" (include "sanas.fullname" .)) .Values.dashboard.tokenSecretName -}}
{{- end -}}

{{/*
The data of a generated Secret: what the cluster already holds under its name when every
key is there (so `helm upgrade` keeps the CA, the certificate and the tokens that trainers
and browsers already have), else the new values in `fresh`. `old` is that Secret as
`lookup` returns it: empty under `helm template` and `--dry-run`, where each render
generates new values. Call with (dict "old" LOOKUP "keys" (list ...) "fresh" DICT).
*/}}
{{- define "sanas.keptSecretData" -}}
{{- $data := dict -}}
{{- if and .old .old.data -}}
{{- range .keys -}}
{{- if hasKey $.old.data . -}}
{{- $_ := set $data . (index $.old.data .) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if ne (len $data) (len .keys) -}}
{{- $data = .fresh -}}
{{- end -}}
{{- toYaml $data -}}
{{- end -}}

{{/* A CA and a server certificate for the controller's Service names (and localhost /
127.0.0.1, for the health probe and `kubectl port-forward`), base64-encoded. */}}
{{- define "sanas.freshTls" -}}
{{- $t := .Values.tls -}}
{{- $svc := include "sanas.controllerName" . -}}
{{- $ns := .Release.Namespace -}}
{{- $days := int $t.generatedValidityDays -}}
{{- $names := concat (list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns) "localhost") $t.extraDnsNames -}}
{{- $ca := genCA (printf "%s-ca" $svc) $days -}}
{{- $cert := genSignedCert (printf "%s.%s.svc" $svc $ns) (list "127.0.0.1") $names $days $ca -}}
{{- toYaml (dict $t.certKey ($cert.Cert | b64enc) $t.keyKey ($cert.Key | b64enc) $t.caKey ($ca.Cert | b64enc)) -}}
{{- end -}}

{{/* A size like 500Mi, 1Gi or 2G in MiB, rounded up. */}}
{{- define "sanas.sizeMiB" -}}
{{- $s := toString . -}}
{{- $number := regexFind "^[0-9]+(\\.[0-9]+)?" $s -}}
{{- $unit := trimPrefix $number $s -}}
{{- $perUnit := dict "" 0.00000095367431640625 "Ki" 0.0009765625 "Mi" 1.0 "Gi" 1024.0 "Ti" 1048576.0 "k" 0.0009536743164 "M" 0.95367431640625 "G" 953.67431640625 "T" 953674.31640625 -}}
{{- if or (not $number) (not (hasKey $perUnit $unit)) -}}
{{- fail (printf "controller.persistence.size %q: want a size such as 500Mi, 1Gi or 2G" $s) -}}
{{- end -}}
{{- mulf (float64 $number) (index $perUnit $unit) | ceil | int -}}
{{- end -}}

{{/*
Seconds the controller may take to start: controller.probes.startupSeconds, or when 0,
0.2 s per MiB of the checkpoint volume (twice the measured 0.06-0.09 s per MiB of
checkpoints: 6.6-9.7 s for a 110 MiB study), at least 300.
*/}}
{{- define "sanas.startupSeconds" -}}
{{- $given := int .Values.controller.probes.startupSeconds -}}
{{- if gt $given 0 -}}
{{- $given -}}
{{- else -}}
{{- max 300 (div (int (include "sanas.sizeMiB" .Values.controller.persistence.size)) 5) -}}
{{- end -}}
{{- end -}}

{{/* The dashboard's --max-watches: its own value, or half the controller's. */}}
{{- define "sanas.dashboardMaxWatches" -}}
{{- $given := int .Values.dashboard.maxWatches -}}
{{- if gt $given 0 -}}{{ $given }}{{- else -}}{{ max 1 (div (int .Values.controller.maxWatchers) 2) }}{{- end -}}
{{- end -}}

{{/* Fails the render on values that cannot work. */}}
{{- define "sanas.validate" -}}
{{- if and (not .Values.insecure) (not .Values.tls.enabled) -}}
{{- fail "tls.enabled=false would serve studies and tokens in clear text: set insecure: true to mean it" -}}
{{- end -}}
{{- if and (not .Values.insecure) (not .Values.auth.enabled) (not .Values.tls.mutual) -}}
{{- fail "auth.enabled=false lets any pod that reaches the controller delete studies: keep the token, use tls.mutual, or set insecure: true to mean it" -}}
{{- end -}}
{{- if and (include "sanas.tlsOn" .) .Values.tls.mutual (not .Values.tls.secretName) -}}
{{- fail "tls.mutual needs tls.secretName: client certificates must chain to a CA you keep, and the chart keeps no CA key" -}}
{{- end -}}
{{- if not (has .Values.trainers.kind (list "Job" "PaddleJob")) -}}
{{- fail (printf "trainers.kind %q: want Job or PaddleJob" .Values.trainers.kind) -}}
{{- end -}}
{{- if and .Values.trainers.enabled (not .Values.trainers.studyId) -}}
{{- fail "trainers.studyId is required" -}}
{{- end -}}
{{- if lt (int .Values.controller.maxWatchers) 2 -}}
{{- fail "controller.maxWatchers must be at least 2 (the dashboard takes at most half)" -}}
{{- end -}}
{{- if and .Values.dashboard.enabled (ge (int (include "sanas.dashboardMaxWatches" .)) (int .Values.controller.maxWatchers)) -}}
{{- fail (printf "dashboard.maxWatches %d must stay below controller.maxWatchers %d, or other clients can watch nothing" (int .Values.dashboard.maxWatches) (int .Values.controller.maxWatchers)) -}}
{{- end -}}
{{- $_ := include "sanas.startupSeconds" . -}}
{{- end -}}

{{/*
The trainer pod spec, shared by the Indexed Job and the PaddleJob.
Call with (dict "ctx" $ "restartPolicy" "OnFailure").
*/}}
{{- define "sanas.trainerPodSpec" -}}
{{- $ := .ctx -}}
{{- $v := $.Values.trainers -}}
restartPolicy: {{ .restartPolicy }}
# Trainers never call the Kubernetes API: no service account token in the pod.
automountServiceAccountToken: false
{{- with $.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $v.podSecurityContext | nindent 2 }}
containers:
  - name: trainer
    image: {{ include "sanas.image" (dict "ctx" $ "image" $v.image) }}
    imagePullPolicy: {{ $v.image.pullPolicy }}
    workingDir: /tmp
    command:
      - python
      - -m
      - paddle.distributed.launch
      - --nproc_per_node
      - {{ include "sanas.nproc" $ | quote }}
      - --log_dir
      - /tmp/paddle-log
      - {{ $v.script }}
      {{- range $v.args }}
      - {{ . | quote }}
      {{- end }}
    env:
      - name: SANAS_ADDRESS
        value: {{ include "sanas.controllerAddress" $ | quote }}
      - name: SANAS_STUDY_ID
        value: {{ $v.studyId | quote }}
      - name: SANAS_CLIENT_ID
        valueFrom:
          fieldRef:
            fieldPath: metadata.name
      - name: HOME
        value: /tmp
      {{- if include "sanas.authOn" $ }}
      - name: SANAS_TOKEN_FILE
        value: /etc/sanas/token/{{ $.Values.auth.secretKey }}
      {{- end }}
      {{- if include "sanas.tlsOn" $ }}
      - name: SANAS_TLS_CA
        value: /etc/sanas/tls-ca/{{ $.Values.tls.caKey }}
      {{- if $v.tls.clientSecretName }}
      - name: SANAS_TLS_CERT
        value: /etc/sanas/tls-client/{{ $.Values.tls.certKey }}
      - name: SANAS_TLS_KEY
        value: /etc/sanas/tls-client/{{ $.Values.tls.keyKey }}
      {{- end }}
      {{- end }}
      {{- with $v.extraEnv }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
    resources:
      {{- $res := deepCopy $v.resources }}
      {{- if gt (int $v.gpusPerWorker) 0 }}
      {{- $_ := set $res "limits" (merge (dict "nvidia.com/gpu" (int $v.gpusPerWorker)) (default (dict) $res.limits)) }}
      {{- end }}
      {{- toYaml $res | nindent 6 }}
    securityContext:
      {{- toYaml $v.securityContext | nindent 6 }}
    volumeMounts:
      - name: tmp
        mountPath: /tmp
      - name: dshm
        mountPath: /dev/shm
      {{- if include "sanas.authOn" $ }}
      - name: token
        mountPath: /etc/sanas/token
        readOnly: true
      {{- end }}
      {{- if include "sanas.tlsOn" $ }}
      - name: tls-ca
        mountPath: /etc/sanas/tls-ca
        readOnly: true
      {{- if $v.tls.clientSecretName }}
      - name: tls-client
        mountPath: /etc/sanas/tls-client
        readOnly: true
      {{- end }}
      {{- end }}
volumes:
  - name: tmp
    emptyDir: {}
  - name: dshm
    emptyDir:
      medium: Memory
      sizeLimit: {{ $v.shmSize }}
  {{- if include "sanas.authOn" $ }}
  - name: token
    secret:
      secretName: {{ include "sanas.authSecretName" $ }}
      items:
        - key: {{ $.Values.auth.secretKey }}
          path: {{ $.Values.auth.secretKey }}
  {{- end }}
  {{- if include "sanas.tlsOn" $ }}
  {{- /* Only the CA of the server's Secret: trainers never see the server's key. */}}
  - name: tls-ca
    secret:
      secretName: {{ include "sanas.tlsSecretName" $ }}
      items:
        - key: {{ $.Values.tls.caKey }}
          path: {{ $.Values.tls.caKey }}
  {{- if $v.tls.clientSecretName }}
  - name: tls-client
    secret:
      secretName: {{ $v.tls.clientSecretName }}
  {{- end }}
  {{- end }}
{{- with $v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $v.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
Which Secret the chart generates under this name, if any: "tls", "token",
"dashboardToken" or "". Call with (dict "ctx" $ "name" NAME).
*/}}
{{- define "sanas.generatedKind" -}}
{{- $ := .ctx -}}
{{- if and (include "sanas.tlsOn" $) (not $.Values.tls.secretName) (eq .name (include "sanas.tlsSecretName" $)) -}}
tls
{{- else if and (include "sanas.authOn" $) (not $.Values.auth.secretName) (eq .name (include "sanas.authSecretName" $)) -}}
token
{{- else if and $.Values.dashboard.enabled (not $.Values.dashboard.tokenSecretName) (eq .name (include "sanas.dashboardTokenSecretName" $)) -}}
dashboardToken
{{- end -}}
{{- end -}}

{{/*
The data of a Secret the chart generates (sanas.keptSecretData), worked out once per
render and kept in .Values (one map, shared by every template of the render), so that
the Secret and the checksum annotations of the pods that mount it hash the same bytes,
even where a new CA or token is generated. Call with (dict "ctx" $ "name" NAME "kind"
KIND), KIND from sanas.generatedKind.
*/}}
{{- define "sanas.generatedSecretData" -}}
{{- $ := .ctx -}}
{{- if not (hasKey $.Values "_sanasGenerated") -}}
{{- $_ := set $.Values "_sanasGenerated" (dict) -}}
{{- end -}}
{{- $cache := index $.Values "_sanasGenerated" -}}
{{- if not (hasKey $cache .name) -}}
{{- $old := lookup "v1" "Secret" $.Release.Namespace .name -}}
{{- $keys := list -}}
{{- $fresh := dict -}}
{{- if eq .kind "tls" -}}
{{- $t := $.Values.tls -}}
{{- $keys = list $t.certKey $t.keyKey $t.caKey -}}
{{- if not (and $old $old.data (hasKey $old.data $t.certKey) (hasKey $old.data $t.keyKey) (hasKey $old.data $t.caKey)) -}}
{{- $fresh = include "sanas.freshTls" $ | fromYaml -}}
{{- end -}}
{{- else if eq .kind "token" -}}
{{- $keys = list $.Values.auth.secretKey -}}
{{- $fresh = dict $.Values.auth.secretKey (randAlphaNum 48 | b64enc) -}}
{{- else if eq .kind "dashboardToken" -}}
{{- $keys = list $.Values.dashboard.tokenSecretKey -}}
{{- $fresh = dict $.Values.dashboard.tokenSecretKey (randAlphaNum 48 | b64enc) -}}
{{- else -}}
{{- fail (printf "sanas.generatedSecretData: %q is not a generated Secret" .name) -}}
{{- end -}}
{{- $_ := set $cache .name (include "sanas.keptSecretData" (dict "old" $old "keys" $keys "fresh" $fresh)) -}}
{{- end -}}
{{- index $cache .name -}}
{{- end -}}

{{/*
checksum/secrets of a pod template: sha256 over the Secrets it mounts and needs a restart
to see (a client reads its token and CA once; the controller reloads its own credential
files, so it has none). A Secret the chart generates counts with its data as this render
writes it; one of yours with its data as the cluster holds it (`lookup`; nothing under
`helm template`). So a changed Secret (yours rotated, or a generated one deleted to be
made anew) rolls the pods on the next `helm upgrade`. Call with (dict "ctx" $ "names"
(list ENTRY...)); an ENTRY is "NAME" (the whole Secret) or "NAME/KEY" (only that key: what
a pod mounts through `items`, so that e.g. a new server certificate under the same CA
does not replace the trainers, which mount only the CA); empty entries are skipped.
*/}}
{{- define "sanas.secretsChecksum" -}}
{{- $ := .ctx -}}
{{- $parts := list -}}
{{- range .names -}}
{{- if . -}}
{{- $name := first (splitList "/" .) -}}
{{- $key := ternary "" (last (splitList "/" .)) (eq $name .) -}}
{{- $kind := include "sanas.generatedKind" (dict "ctx" $ "name" $name) -}}
{{- $data := dict -}}
{{- if $kind -}}
{{- $data = include "sanas.generatedSecretData" (dict "ctx" $ "name" $name "kind" $kind) | fromYaml -}}
{{- else -}}
{{- $data = default (dict) (get (default (dict) (lookup "v1" "Secret" $.Release.Namespace $name)) "data") -}}
{{- end -}}
{{- if $key -}}
{{- $data = pick $data $key -}}
{{- end -}}
{{- $parts = append $parts (printf "%s:%s" . (ternary (toYaml $data) (toJson $data) (ne $kind ""))) -}}
{{- end -}}
{{- end -}}
{{- join "\n" $parts | sha256sum -}}
{{- end -}}

{{/* Labels of the trainer pods: no helm.sh/chart, so that a new chart version alone
does not change the trainer Job's pod template (and so its name). */}}
{{- define "sanas.trainerPodLabels" -}}
{{- include "sanas.selectorLabels" (dict "ctx" . "component" "trainer") }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/*
The trainer Job's pod template (metadata and spec); its hash names the Job. Call with
(dict "ctx" $ "mounted" (list SECRET...)).
*/}}
{{- define "sanas.trainerPodTemplate" -}}
metadata:
  labels:
    {{- include "sanas.trainerPodLabels" .ctx | nindent 4 }}
  annotations:
    # A changed Secret replaces the trainers on `helm upgrade` (a new Job, see above).
    checksum/secrets: {{ include "sanas.secretsChecksum" (dict "ctx" .ctx "names" .mounted) }}
spec:
  {{- include "sanas.trainerPodSpec" (dict "ctx" .ctx "restartPolicy" "Never") | nindent 2 }}
{{- end -}}

{{/* The Secrets (and keys) a trainer pod mounts, comma-separated (for
sanas.secretsChecksum): the CA of the server's Secret, its client certificate, its token. */}}
{{- define "sanas.trainerSecretNames" -}}
{{- $names := list -}}
{{- if include "sanas.tlsOn" . }}{{ $names = concat $names (list (printf "%s/%s" (include "sanas.tlsSecretName" .) .Values.tls.caKey) .Values.trainers.tls.clientSecretName) }}{{ end -}}
{{- if include "sanas.authOn" . }}{{ $names = append $names (printf "%s/%s" (include "sanas.authSecretName" .) .Values.auth.secretKey) }}{{ end -}}
{{- join "," $names -}}
{{- end -}}

{{/* The trainer Job's name: <fullname>-trainers-<hash of its pod template> (see
trainers-job.yaml). */}}
{{- define "sanas.trainerJobName" -}}
{{- $template := include "sanas.trainerPodTemplate" (dict "ctx" . "mounted" (splitList "," (include "sanas.trainerSecretNames" .))) -}}
{{- printf "%s-trainers-%s" (include "sanas.fullname" . | trunc 45 | trimSuffix "-") ($template | sha256sum | trunc 8) -}}
{{- end -}}
