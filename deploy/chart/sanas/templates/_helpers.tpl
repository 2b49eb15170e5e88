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

{{/*
Tokens (docs/credentials.md). "true" or "":
- sanas.tokensFromValues: auth.tokens or auth.existingSecret gives the tokens file;
- sanas.tokensFileOn: the controller gets --tokens-file (those, or the generated default:
  nothing named, so the chart makes a trainer token beside the admin token);
- sanas.singleTokenOn: the controller gets --auth-token-file (one admin token: chart 0.3's
  way; with a tokens file only when auth.secretName is set).
*/}}
{{- define "sanas.tokensFromValues" -}}
{{- if and (include "sanas.authOn" .) (or .Values.auth.tokens .Values.auth.existingSecret) -}}true{{- end -}}
{{- end -}}

{{- define "sanas.tokensFileOn" -}}
{{- if and (include "sanas.authOn" .) (or (include "sanas.tokensFromValues" .) (not .Values.auth.secretName)) -}}true{{- end -}}
{{- end -}}

{{- define "sanas.singleTokenOn" -}}
{{- if and (include "sanas.authOn" .) (or (not (include "sanas.tokensFromValues" .)) .Values.auth.secretName) -}}true{{- end -}}
{{- end -}}

{{/* The Secret holding the tokens file, and its key. */}}
{{- define "sanas.tokensSecretName" -}}
{{- default (printf "%s-tokens" (include "sanas.fullname" .)) .Values.auth.existingSecret -}}
{{- end -}}

{{- define "sanas.tokensSecretKey" -}}
{{- ternary .Values.auth.existingSecretKey "tokens" (ne .Values.auth.existingSecret "") -}}
{{- end -}}

{{/* The Secret holding the trainers' token, and its key: auth.trainerSecretName, else
the chart's "<fullname>-trainer-token" when there is a tokens file, else the one admin
token of auth.secretName (chart 0.3's way). */}}
{{- define "sanas.trainerTokenSecretName" -}}
{{- if .Values.auth.trainerSecretName -}}
{{- .Values.auth.trainerSecretName -}}
{{- else if include "sanas.tokensFileOn" . -}}
{{- printf "%s-trainer-token" (include "sanas.fullname" .) -}}
{{- else -}}
{{- include "sanas.authSecretName" . -}}
{{- end -}}
{{- end -}}

{{- define "sanas.trainerTokenSecretKey" -}}
{{- if .Values.auth.trainerSecretName -}}
{{- .Values.auth.trainerSecretKey -}}
{{- else if include "sanas.tokensFileOn" . -}}
token
{{- else -}}
{{- .Values.auth.secretKey -}}
{{- end -}}
{{- end -}}

{{/* The token the dashboard calls the controller with: its own Secret, or the trainers'. */}}
{{- define "sanas.dashboardGrpcTokenSecretName" -}}
{{- default (include "sanas.trainerTokenSecretName" .) .Values.auth.dashboardSecretName -}}
{{- end -}}

{{- define "sanas.dashboardGrpcTokenSecretKey" -}}
{{- ternary .Values.auth.dashboardSecretKey (include "sanas.trainerTokenSecretKey" .) (ne .Values.auth.dashboardSecretName "") -}}
{{- end -}}

{{/* The auth.tokens entry the trainers get, as JSON ("" when none): the one named by
auth.trainerToken, else the first trainer. */}}
{{- define "sanas.trainerEntry" -}}
{{- $found := dict -}}
{{- range .Values.auth.tokens -}}
{{- $wanted := ternary (eq (toString .name) (toString $.Values.auth.trainerToken)) (eq (toString .role) "trainer") (ne $.Values.auth.trainerToken "") -}}
{{- if and (not $found) $wanted -}}
{{- $found = . -}}
{{- end -}}
{{- end -}}
{{- if $found }}{{ toJson $found }}{{ end -}}
{{- end -}}

{{/* The tokens file of auth.tokens (or of the generated trainer token), checked line by
line as the server would, so a bad entry fails the render and never reaches the server;
messages name the entry, never its token. */}}
{{- define "sanas.tokensFile" -}}
{{- $lines := list "# sanas tokens file, written by the Helm chart: ROLE TOKEN LABEL" -}}
{{- if .Values.auth.tokens -}}
{{- $names := dict -}}
{{- $tokens := dict -}}
{{- range $i, $t := .Values.auth.tokens -}}
{{- $name := ternary "" (toString $t.name) (kindIs "invalid" $t.name) -}}
{{- $token := ternary "" (toString $t.token) (kindIs "invalid" $t.token) -}}
{{- $where := printf "auth.tokens[%d] (%s)" $i (ternary "no name" $name (eq $name "")) -}}
{{- if not (kindIs "string" $t.name) -}}
{{- fail (printf "%s: the name must be a string: quote it in the values (YAML reads n, no, on, 2025 ... as other things)" $where) -}}
{{- end -}}
{{- if not (regexMatch "^[A-Za-z0-9][A-Za-z0-9._@:-]{0,62}$" $name) -}}
{{- fail (printf "%s: want a name of letters, digits and . _ @ : - (at most 63), the label logs and the audit log show" $where) -}}
{{- end -}}
{{- if not (has $t.role (list "admin" "trainer")) -}}
{{- fail (printf "%s: role %q: want admin or trainer" $where (toString $t.role)) -}}
{{- end -}}
{{- if not (kindIs "string" $t.token) -}}
{{- fail (printf "%s: the token must be a string: quote it in the values (YAML reads an unquoted 1234... or 1e5... as a number)" $where) -}}
{{- end -}}
{{- if not (regexMatch "^[!-~]{16,}$" $token) -}}
{{- fail (printf "%s: the token must be 16 or more printable characters without spaces (e.g. `openssl rand -hex 32`)" $where) -}}
{{- end -}}
{{- if hasKey $names $name -}}
{{- fail (printf "auth.tokens: the name %q is given twice" $name) -}}
{{- end -}}
{{- $key := sha256sum $token -}}
{{- if hasKey $tokens $key -}}
{{- fail (printf "auth.tokens: %s and %s hold the same token" (index $tokens $key) $name) -}}
{{- end -}}
{{- $_ := set $names $name true -}}
{{- $_ := set $tokens $key $name -}}
{{- $lines = append $lines (printf "%s %s %s" $t.role $token $name) -}}
{{- end -}}
{{- else -}}
{{- $name := printf "%s-trainer-token" (include "sanas.fullname" .) -}}
{{- $data := include "sanas.generatedSecretData" (dict "ctx" . "name" $name "kind" "trainerToken") | fromYaml -}}
{{- $lines = append $lines (printf "trainer %s trainers" (b64dec $data.token)) -}}
{{- end -}}
{{- join "\n" $lines }}
{{ end -}}

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
{{- $audit := toString .Values.controller.auditLogPath -}}
{{- if or (not (hasPrefix "/var/lib/sanas/" $audit)) (hasPrefix "/var/lib/sanas/studies/" $audit) (eq (clean $audit) "/var/lib/sanas/sanas.lock") (ne (clean $audit) $audit) -}}
{{- fail (printf "controller.auditLogPath %q: want a file on the checkpoint volume, /var/lib/sanas/<name> (not under studies/): the root filesystem is read-only and /tmp goes with the pod" $audit) -}}
{{- end -}}
{{- include "sanas.validateTokens" . -}}
{{- end -}}

{{/* Fails the render on tokens that cannot work, or that would give a client more than
it needs. */}}
{{- define "sanas.validateTokens" -}}
{{- $a := .Values.auth -}}
{{- if include "sanas.authOn" . -}}
{{- if and $a.tokens $a.existingSecret -}}
{{- fail "auth.tokens and auth.existingSecret are both set: give the tokens inline or the Secret holding the tokens file, not both" -}}
{{- end -}}
{{- if $a.tokens -}}
{{- $_ := include "sanas.tokensFile" . -}}
{{- end -}}
{{- range $value := list "trainerSecretName" "dashboardSecretName" -}}
{{- if and (index $a $value) (not (include "sanas.tokensFromValues" $)) -}}
{{- fail (printf "auth.%s needs auth.tokens or auth.existingSecret: the tokens file that lists its token (the controller knows no other token than those and auth.secretName's)" $value) -}}
{{- end -}}
{{- end -}}
{{- if and $a.trainerToken (not $a.tokens) -}}
{{- fail "auth.trainerToken names an entry of auth.tokens, and there is none: with auth.existingSecret name the trainers' Secret in auth.trainerSecretName" -}}
{{- end -}}
{{- if $a.trainerToken -}}
{{- $named := dict -}}
{{- range $a.tokens }}{{ if eq (toString .name) (toString $a.trainerToken) }}{{ $named = . }}{{ end }}{{ end -}}
{{- if not $named -}}
{{- fail (printf "auth.trainerToken %q: no entry of auth.tokens has that name" (toString $a.trainerToken)) -}}
{{- end -}}
{{- if ne (toString $named.role) "trainer" -}}
{{- fail (printf "auth.trainerToken %q has role %s: trainers get a trainer token, never an admin one" (toString $a.trainerToken) (toString $named.role)) -}}
{{- end -}}
{{- end -}}
{{- $clients := list -}}
{{- if .Values.trainers.enabled }}{{ $clients = append $clients "the trainers" }}{{ end -}}
{{- if and .Values.dashboard.enabled (not $a.dashboardSecretName) }}{{ $clients = append $clients "the dashboard" }}{{ end -}}
{{- if and $clients (not $a.trainerSecretName) -}}
{{- if and $a.tokens (not (include "sanas.trainerEntry" .)) -}}
{{- fail (printf "auth.tokens has no trainer token for %s: add one ({name: ..., role: trainer, token: ...}; they never get an admin token) or name a Secret holding one in auth.trainerSecretName" (join " and " $clients)) -}}
{{- end -}}
{{- if $a.existingSecret -}}
{{- fail (printf "auth.existingSecret needs auth.trainerSecretName for %s: a Secret holding one trainer token of the tokens file (the chart cannot tell which token in it is a trainer's)" (join " and " $clients)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
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
      # A trainer token (docs/credentials.md), never an admin one unless auth.secretName
      # is the only token there is.
      - name: SANAS_TOKEN_FILE
        value: /etc/sanas/token/{{ include "sanas.trainerTokenSecretKey" $ }}
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
      secretName: {{ include "sanas.trainerTokenSecretName" $ }}
      items:
        - key: {{ include "sanas.trainerTokenSecretKey" $ }}
          path: {{ include "sanas.trainerTokenSecretKey" $ }}
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
Which Secret the chart writes under this name, if any: "tls", "token", "dashboardToken",
"trainerToken" (generated), "trainerTokenFromValues", "tokensFile" (from values) or "".
Call with (dict "ctx" $ "name" NAME).
*/}}
{{- define "sanas.generatedKind" -}}
{{- $ := .ctx -}}
{{- $v := $.Values -}}
{{- if and (include "sanas.tlsOn" $) (not $v.tls.secretName) (eq .name (include "sanas.tlsSecretName" $)) -}}
tls
{{- else if and (include "sanas.singleTokenOn" $) (not $v.auth.secretName) (eq .name (include "sanas.authSecretName" $)) -}}
token
{{- else if and (include "sanas.tokensFileOn" $) (not $v.auth.existingSecret) (eq .name (include "sanas.tokensSecretName" $)) -}}
tokensFile
{{- else if and (include "sanas.tokensFileOn" $) (not $v.auth.existingSecret) (not $v.auth.trainerSecretName) (eq .name (include "sanas.trainerTokenSecretName" $)) -}}
{{- ternary "trainerTokenFromValues" "trainerToken" (gt (len $v.auth.tokens) 0) -}}
{{- else if and $v.dashboard.enabled (not $v.dashboard.tokenSecretName) (eq .name (include "sanas.dashboardTokenSecretName" $)) -}}
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
{{- else if eq .kind "trainerToken" -}}
{{- $keys = list "token" -}}
{{- $fresh = dict "token" (randAlphaNum 48 | b64enc) -}}
{{- else if eq .kind "trainerTokenFromValues" -}}
{{- /* From the values: what the cluster holds does not count. */ -}}
{{- $old = dict -}}
{{- $keys = list "token" -}}
{{- $entry := include "sanas.trainerEntry" $ | fromJson -}}
{{- $fresh = dict "token" (toString $entry.token | b64enc) -}}
{{- else if eq .kind "tokensFile" -}}
{{- $old = dict -}}
{{- $keys = list "tokens" -}}
{{- $fresh = dict "tokens" (include "sanas.tokensFile" $ | b64enc) -}}
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
{{- if include "sanas.authOn" . }}{{ $names = append $names (printf "%s/%s" (include "sanas.trainerTokenSecretName" .) (include "sanas.trainerTokenSecretKey" .)) }}{{ end -}}
{{- join "," $names -}}
{{- end -}}

{{/* The trainer Job's name: <fullname>-trainers-<hash of its pod template> (see
trainers-job.yaml). */}}
{{- define "sanas.trainerJobName" -}}
{{- $template := include "sanas.trainerPodTemplate" (dict "ctx" . "mounted" (splitList "," (include "sanas.trainerSecretNames" .))) -}}
{{- printf "%s-trainers-%s" (include "sanas.fullname" . | trunc 45 | trimSuffix "-") ($template | sha256sum | trunc 8) -}}
{{- end -}}
