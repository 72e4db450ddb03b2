{{/* Chart name, truncated to the 63 characters a label allows. */}}
{{- define "slad.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: the release name, with the chart name unless it already holds it. */}}
{{- define "slad.fullname" -}}
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

{{- define "slad.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "slad.selectorLabels" -}}
app.kubernetes.io/name: {{ include "slad.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "slad.labels" -}}
helm.sh/chart: {{ include "slad.chart" . }}
{{ include "slad.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "slad.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The Secret holding config.toml. */}}
{{- define "slad.configSecret" -}}
{{- default (printf "%s-config" (include "slad.fullname" .)) .Values.existingConfigSecret }}
{{- end }}

{{/* Environment shared by the migrate init container and the daemon. */}}
{{- define "slad.env" -}}
- name: SLAD_CONFIG
  value: /etc/slad/config.toml
- name: SLAD_DATABASE__URL
  valueFrom:
    secretKeyRef:
      name: {{ required "database.existingSecret is required: a Secret with the database URL (PostgreSQL for several replicas)" .Values.database.existingSecret }}
      key: {{ .Values.database.existingSecretKey }}
- name: SLAD_SERVER__HOST
  value: "0.0.0.0"
- name: SLAD_SERVER__PORT
  value: {{ .Values.containerPort | quote }}
{{- with .Values.env }}
{{ toYaml . }}
{{- end }}
{{- end }}
