{{/* The release's full name: "<release>-ops-automation", or the release name when it already says so. */}}
{{- define "ops.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "ops.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component (worker, data-worker, webhooks). */}}
{{- define "ops.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "ops.serviceAccountName" -}}
{{- default (include "ops.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "ops.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "ops.policyConfigMap" -}}
{{- default (printf "%s-policy" (include "ops.fullname" .)) .Values.policy.existingConfigMap -}}
{{- end -}}

{{- define "ops.hasPolicy" -}}
{{- if or .Values.policy.existingConfigMap .Values.policy.content }}true{{ end -}}
{{- end -}}

{{/* What every process reads: the settings ConfigMap and the Secret by reference. */}}
{{- define "ops.envFrom" -}}
envFrom:
  - configMapRef:
      name: {{ include "ops.fullname" . }}-env
{{- with .Values.secrets.existingSecret }}
  - secretRef:
      name: {{ . }}
{{- end }}
{{- end -}}

{{/* Single variables from other Secrets (entries of a container's env list). */}}
{{- define "ops.secretEnv" -}}
{{- range .Values.secrets.refs }}
- name: {{ required "secrets.refs[].name is required" .name }}
  valueFrom:
    secretKeyRef:
      name: {{ required (printf "secrets.refs %s: secretName is required" .name) .secretName }}
      key: {{ required (printf "secrets.refs %s: key is required" .name) .key }}
{{- end }}
{{- end -}}

{{/* Changes to settings or policy roll the pods (they read both at start-up). */}}
{{- define "ops.configChecksum" -}}
checksum/config: {{ printf "%s%s" (toJson .Values.env) (toJson .Values.temporal) | cat .Values.policy.content | sha256sum }}
{{- end -}}

