{{/*
Names. The full name is the prefix of every resource (infra/keda/render.py applies the same rule).
*/}}
{{- define "todo-cloud.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "todo-cloud.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "todo-cloud.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels. Call with (dict "root" $ "component" "gateway").
*/}}
{{- define "todo-cloud.selectorLabels" -}}
app.kubernetes.io/name: {{ include "todo-cloud.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "todo-cloud.labels" -}}
helm.sh/chart: {{ include "todo-cloud.chart" .root }}
{{ include "todo-cloud.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: todo-cloud
{{- end }}

{{/*
Pod labels: the selector labels plus the workload identity switch.
*/}}
{{- define "todo-cloud.podLabels" -}}
{{ include "todo-cloud.labels" . }}
{{- if .root.Values.workloadIdentity.enabled }}
azure.workload.identity/use: "true"
{{- end }}
{{- end }}

{{- define "todo-cloud.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "todo-cloud.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Image reference. Call with (dict "root" $ "image" .Values.gateway.image).
*/}}
{{- define "todo-cloud.image" -}}
{{- $registry := default .root.Values.global.imageRegistry .image.registry }}
{{- $tag := .image.tag | default .root.Values.global.imageTag | default .root.Chart.AppVersion | toString }}
{{- if $registry }}
{{- printf "%s/%s:%s" $registry .image.repository $tag }}
{{- else }}
{{- printf "%s:%s" .image.repository $tag }}
{{- end }}
{{- end }}

{{- define "todo-cloud.existingSecret" -}}
{{- required "existingSecret is required: the name of a Secret created before install (see values.yaml)" .Values.existingSecret }}
{{- end }}

{{/*
A secretKeyRef env entry. Call with (dict "root" $ "env" "DATABASE_URL" "key" "database-url" "optional" false).
*/}}
{{- define "todo-cloud.secretEnv" -}}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ default (include "todo-cloud.existingSecret" .root) .secret }}
      key: {{ .key }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end }}

{{/*
Secrets every Python process needs (Settings refuses to start in production without them).
*/}}
{{- define "todo-cloud.coreSecretEnv" -}}
{{ include "todo-cloud.secretEnv" (dict "root" .root "env" "DATABASE_URL" "key" .root.Values.secretKeys.databaseUrl) }}
{{ include "todo-cloud.secretEnv" (dict "root" .root "env" "JWT_SECRET" "key" .root.Values.secretKeys.jwtSecret) }}
{{ include "todo-cloud.secretEnv" (dict "root" .root "env" "VAPID_PRIVATE_KEY" "key" .root.Values.secretKeys.vapidPrivateKey "optional" true) }}
{{- end }}

{{/*
Kafka credentials: the app's own settings and the Functions trigger's app settings.
*/}}
{{- define "todo-cloud.kafkaSecretEnv" -}}
{{- if .root.Values.kafka.sasl.enabled }}
{{ include "todo-cloud.secretEnv" (dict "root" .root "env" "KAFKA_USERNAME" "key" .root.Values.secretKeys.kafkaUsername) }}
{{ include "todo-cloud.secretEnv" (dict "root" .root "env" "KAFKA_PASSWORD" "key" .root.Values.secretKeys.kafkaPassword) }}
{{ include "todo-cloud.secretEnv" (dict "root" .root "env" "KafkaUsername" "key" .root.Values.secretKeys.kafkaUsername) }}
{{ include "todo-cloud.secretEnv" (dict "root" .root "env" "KafkaPassword" "key" .root.Values.secretKeys.kafkaPassword) }}
{{- end }}
{{- end }}

{{/*
Dapr tokens shared by an app and its sidecar (the sidecar reads the same Secrets by annotation).
*/}}
{{- define "todo-cloud.daprTokenEnv" -}}
{{- if .root.Values.dapr.apiTokenSecret }}
{{ include "todo-cloud.secretEnv" (dict "root" .root "env" "DAPR_API_TOKEN" "secret" .root.Values.dapr.apiTokenSecret "key" "token") }}
{{- end }}
{{- if and .appToken .root.Values.dapr.appTokenSecret }}
{{ include "todo-cloud.secretEnv" (dict "root" .root "env" "DAPR_APP_TOKEN" "secret" .root.Values.dapr.appTokenSecret "key" "token") }}
{{- end }}
{{- end }}

{{/*
Dapr sidecar annotations. Call with (dict "root" $ "appId" "agent-gateway" "appPort" 8000).
*/}}
{{- define "todo-cloud.daprAnnotations" -}}
dapr.io/enabled: "true"
dapr.io/app-id: {{ .appId | quote }}
{{- if .appPort }}
dapr.io/app-port: {{ .appPort | quote }}
{{- end }}
dapr.io/config: {{ .root.Values.dapr.config | quote }}
dapr.io/log-level: {{ .root.Values.dapr.logLevel | quote }}
dapr.io/log-as-json: "true"
dapr.io/enable-metrics: "true"
dapr.io/metrics-port: "9090"
dapr.io/sidecar-cpu-request: {{ .root.Values.dapr.sidecar.cpuRequest | quote }}
dapr.io/sidecar-memory-request: {{ .root.Values.dapr.sidecar.memoryRequest | quote }}
dapr.io/sidecar-cpu-limit: {{ .root.Values.dapr.sidecar.cpuLimit | quote }}
dapr.io/sidecar-memory-limit: {{ .root.Values.dapr.sidecar.memoryLimit | quote }}
{{- if .root.Values.dapr.apiTokenSecret }}
dapr.io/api-token-secret: {{ .root.Values.dapr.apiTokenSecret | quote }}
{{- end }}
{{- if and .appPort .root.Values.dapr.appTokenSecret }}
dapr.io/app-token-secret: {{ .root.Values.dapr.appTokenSecret | quote }}
{{- end }}
{{- end }}

{{/*
Pod-level settings shared by every workload.
*/}}
{{- define "todo-cloud.podCommon" -}}
serviceAccountName: {{ include "todo-cloud.serviceAccountName" .root }}
automountServiceAccountToken: {{ .root.Values.serviceAccount.automountServiceAccountToken }}
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- with .root.Values.global.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{- with .root.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .root.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .root.Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{- define "todo-cloud.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end }}

{{- define "todo-cloud.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- end }}

{{/*
Environment of a Functions host limited to one function. Call with (dict "root" $ "function" "http_api").
*/}}
{{- define "todo-cloud.functionsHostEnv" -}}
- name: AzureFunctionsJobHost__functions__0
  value: {{ .function | quote }}
- name: ASPNETCORE_URLS
  value: {{ printf "http://+:%v" .root.Values.functionsApi.port | quote }}
- name: FUNCTIONS_WORKER_RUNTIME
  value: python
- name: AzureWebJobsScriptRoot
  value: /home/site/wwwroot
- name: AzureWebJobsFeatureFlags
  value: EnableWorkerIndexing
- name: AzureFunctionsJobHost__Logging__Console__IsEnabled
  value: "true"
- name: PYTHONDONTWRITEBYTECODE
  value: "1"
{{- /* the host runs as uid 10001 with no home directory on a read-only root: .NET and Python write
       their caches under HOME, the host its files under /tmp/Functions; /tmp is an emptyDir */}}
- name: HOME
  value: /tmp
{{- end }}

{{- define "todo-cloud.configChecksum" -}}
checksum/config: {{ include (print .root.Template.BasePath "/config/configmap.yaml") .root | sha256sum }}
{{- end }}

{{/* Partitions of a topic: its kafka.topicPartitions entry, else kafka.partitions (dict "root" $ "topic" name). */}}
{{- define "todo-cloud.topicPartitions" -}}
{{- $own := get (.root.Values.kafka.topicPartitions | default dict) .topic -}}
{{- int (ternary $own .root.Values.kafka.partitions (not (empty $own))) -}}
{{- end }}
