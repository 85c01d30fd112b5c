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

{{/* The product image: by digest when image.digest is set (every pod, the injected boot check included), else by tag. */}}
{{- define "go.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}
{{- end -}}

{{/*
The self-check's ServiceAccount and RBAC exist only while a self-check runs (the hook Job or
`helm test`): created before it (weight -10), deleted after it, whatever the outcome.
*/}}
{{- define "go.selfcheckHook" -}}
helm.sh/hook: post-install,post-upgrade,post-rollback,test
helm.sh/hook-weight: "-10"
helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded,hook-failed
{{- end -}}

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
The failurePolicy both webhook configurations are rendered with. failClosed: Fail, always.
selfCheck: Fail as soon as the install was ever proven, i.e. either live configuration of the
release is Fail or carries the annotation the self-check writes when it switches them
(go.provenAnnotation); Ignore only before that, on a first install, until the hook has seen a
replica refuse a tampered Genome. So no upgrade, and no re-render of a later revision, opens a
proven webhook again. Only `helm rollback` to the first revision brings its stored Ignore back:
Helm 4's server-side apply refuses it (the hook owns the field since its switch), a
client-side rollback applies it and the post-rollback hook closes it again (docs/install.md,
"Install posture"). failClosed, the default, never renders Ignore at all.
*/}}
{{- define "go.failurePolicy" -}}
{{- if eq .root.Values.webhook.installPosture "failClosed" -}}
Fail
{{- else -}}
{{- $policy := "Ignore" -}}
{{- range $kind := list "ValidatingWebhookConfiguration" "MutatingWebhookConfiguration" -}}
{{- $live := lookup "admissionregistration.k8s.io/v1" $kind "" (include "go.webhookConfig" $.root) -}}
{{- if $live -}}
{{- if hasKey ($live.metadata.annotations | default dict) (include "go.provenAnnotation" $.root) -}}{{- $policy = "Fail" -}}{{- end -}}
{{- range $live.webhooks -}}{{- if eq .failurePolicy "Fail" -}}{{- $policy = "Fail" -}}{{- end -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- $policy -}}
{{- end -}}
{{- end -}}

{{/* The annotation the self-check puts on both configurations once it proved a replica answers (scripts/genome-selfcheck.ts). */}}
{{- define "go.provenAnnotation" -}}genome.mathison.io/self-check-passed{{- end -}}

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
