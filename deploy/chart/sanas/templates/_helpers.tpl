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

{{/* Fails the render on values that cannot work. */}}
{{- define "sanas.validate" -}}
{{- if and .Values.tls.enabled (not .Values.tls.secretName) -}}
{{- fail "tls.enabled needs tls.secretName (an existing Secret with the server certificate and key)" -}}
{{- end -}}
{{- if and .Values.auth.enabled (not .Values.auth.secretName) -}}
{{- fail "auth.enabled needs auth.secretName (an existing Secret holding the token)" -}}
{{- end -}}
{{- if not (has .Values.trainers.kind (list "Job" "PaddleJob")) -}}
{{- fail (printf "trainers.kind %q: want Job or PaddleJob" .Values.trainers.kind) -}}
{{- end -}}
{{- if and .Values.trainers.enabled (not .Values.trainers.studyId) -}}
{{- fail "trainers.studyId is required" -}}
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
      {{- if $.Values.auth.enabled }}
      - name: SANAS_TOKEN_FILE
        value: /etc/sanas/token/{{ $.Values.auth.secretKey }}
      {{- end }}
      {{- if $.Values.tls.enabled }}
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
      {{- if $.Values.auth.enabled }}
      - name: token
        mountPath: /etc/sanas/token
        readOnly: true
      {{- end }}
      {{- if $.Values.tls.enabled }}
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
  {{- if $.Values.auth.enabled }}
  - name: token
    secret:
      secretName: {{ $.Values.auth.secretName }}
      items:
        - key: {{ $.Values.auth.secretKey }}
          path: {{ $.Values.auth.secretKey }}
  {{- end }}
  {{- if $.Values.tls.enabled }}
  {{- /* Only the CA of the server's Secret: trainers never see the server's key. */}}
  - name: tls-ca
    secret:
      secretName: {{ $.Values.tls.secretName }}
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
