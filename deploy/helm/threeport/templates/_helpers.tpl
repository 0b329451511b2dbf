{{/* Names, labels and shared pieces of the Threeport chart. */}}

{{- define "threeport.fullname" -}}
{{- if contains "threeport" .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-threeport" .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The name of one service's objects: <fullname>-<service>. Call with (list $ "registry"). */}}
{{- define "threeport.serviceName" -}}
{{- printf "%s-%s" (include "threeport.fullname" (index . 0)) (index . 1) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "threeport.labels" -}}
app.kubernetes.io/name: threeport
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one service. Call with (list $ "registry"). */}}
{{- define "threeport.selectorLabels" -}}
app.kubernetes.io/name: threeport
app.kubernetes.io/instance: {{ (index . 0).Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "threeport.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "threeport.secretName" -}}
{{- default (printf "%s-keys" (include "threeport.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "threeport.datastoreSecretName" -}}
{{- printf "%s-datastores" (include "threeport.fullname" .) -}}
{{- end -}}

{{/* Secret environment shared by every service and migration Job (the rest is in the ConfigMap). */}}
{{- define "threeport.env" -}}
- name: THREEPORT_DATABASE_URL
  valueFrom:
    secretKeyRef:
      {{- if .Values.database.existingSecret }}
      name: {{ .Values.database.existingSecret }}
      key: {{ .Values.database.existingSecretKey }}
      {{- else }}
      name: {{ include "threeport.datastoreSecretName" . }}
      key: database-url
      {{- end }}
- name: THREEPORT_REDIS_URL
  valueFrom:
    secretKeyRef:
      {{- if .Values.redis.existingSecret }}
      name: {{ .Values.redis.existingSecret }}
      key: {{ .Values.redis.existingSecretKey }}
      {{- else }}
      name: {{ include "threeport.datastoreSecretName" . }}
      key: redis-url
      {{- end }}
- name: THREEPORT_SERVICE_CREDENTIAL
  valueFrom:
    secretKeyRef:
      name: {{ include "threeport.secretName" . }}
      key: service-credential
- name: THREEPORT_ENCRYPTION_KEYS
  valueFrom:
    secretKeyRef:
      name: {{ include "threeport.secretName" . }}
      key: encryption-keys
{{- end -}}

{{/* A value for a generated secret: the value given, else the one already in the cluster, else random. */}}
{{- define "threeport.keep" -}}
{{- $given := index . 0 -}}
{{- $existing := index . 1 -}}
{{- $key := index . 2 -}}
{{- $fresh := index . 3 -}}
{{- if $given -}}
{{- $given -}}
{{- else if and $existing (hasKey $existing.data $key) -}}
{{- index $existing.data $key | b64dec -}}
{{- else -}}
{{- $fresh -}}
{{- end -}}
{{- end -}}

{{- define "threeport.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "threeport.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end -}}
