{{/* The base name of every object: the release name, or genome-operator inside it. */}}
{{- define "go.fullname" -}}
{{- if contains "genome-operator" .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-genome-operator" .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "go.operator" -}}{{ include "go.fullname" . }}{{- end -}}
{{- define "go.webhook" -}}{{ include "go.fullname" . }}-webhook{{- end -}}
{{- define "go.selfcheck" -}}{{ include "go.fullname" . }}-selfcheck{{- end -}}
{{/* Both webhook configurations (validating and mutating) carry this name. */}}
{{- define "go.webhookConfig" -}}{{ include "go.fullname" . }}{{- end -}}

{{- define "go.labels" -}}
app.kubernetes.io/name: genome-operator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "go.selector" -}}
app.kubernetes.io/name: genome-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "go.image" -}}{{ .Values.image.repository }}:{{ .Values.image.tag }}{{- end -}}

{{/* The restricted Pod Security Standard, for every pod of the chart. */}}
{{- define "go.podSecurity" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}
{{- define "go.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
The failurePolicy both webhook configurations are rendered with. failClosed: Fail. selfCheck:
Ignore on first install, until the post-install hook has seen a replica refuse a tampered
Genome and switched it to Fail; on upgrade the live value is kept, so a configuration that is
already Fail is never opened again by an upgrade.
*/}}
{{- define "go.failurePolicy" -}}
{{- if eq .root.Values.webhook.installPosture "failClosed" -}}
Fail
{{- else -}}
{{- $live := lookup "admissionregistration.k8s.io/v1" .kind "" (include "go.webhookConfig" .root) -}}
{{- $policy := "Ignore" -}}
{{- if $live -}}{{- range $live.webhooks -}}{{- if eq .failurePolicy "Fail" -}}{{- $policy = "Fail" -}}{{- end -}}{{- end -}}{{- end -}}
{{- $policy -}}
{{- end -}}
{{- end -}}

{{/* Whether the self-check has a genome that must be admitted. */}}
{{- define "go.expectGood" -}}
{{- if or .Values.selfCheck.genome .Values.trust.testKey -}}true{{- else -}}false{{- end -}}
{{- end -}}

{{/* The self-check container (install hook and helm test), in the product image. */}}
{{- define "go.selfcheckPod" -}}
serviceAccountName: {{ include "go.selfcheck" .root }}
restartPolicy: Never
{{- with .root.Values.image.pullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- include "go.podSecurity" .root | nindent 2 }}
containers:
  - name: selfcheck
    image: {{ include "go.image" .root }}
    imagePullPolicy: {{ .root.Values.image.pullPolicy }}
    args: [/app/genome-selfcheck.mjs{{ if .switch }}, --switch{{ end }}]
    env:
      - name: GENOME_SELFCHECK_NAMESPACE
        value: {{ .root.Values.selfCheck.namespace }}
      - name: WEBHOOK_CONFIGURATION
        value: {{ include "go.webhookConfig" .root }}
      - name: GENOME_SELFCHECK_EXPECT_GOOD
        value: {{ include "go.expectGood" .root | quote }}
      - name: GENOME_SELFCHECK_TIMEOUT_SECONDS
        value: {{ .root.Values.selfCheck.timeoutSeconds | quote }}
    volumeMounts:
      - { name: genome, mountPath: /etc/genome-selfcheck, readOnly: true }
    securityContext:
      {{- include "go.containerSecurity" .root | nindent 6 }}
    resources:
      requests: { cpu: 10m, memory: 64Mi }
      limits: { memory: 128Mi }
volumes:
  - name: genome
    configMap:
      name: {{ include "go.selfcheck" .root }}
{{- end -}}
