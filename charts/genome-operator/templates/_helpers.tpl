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
{{- with (.Values.global).commonLabels }}
{{ include "go.extraLabels" (dict "labels" . "reserved" (list "app.kubernetes.io/name" "app.kubernetes.io/instance" "app.kubernetes.io/version" "app.kubernetes.io/managed-by" "app.kubernetes.io/component" "helm.sh/chart")) }}
{{- end }}
{{- end -}}

{{/*
Labels of the user (global.commonLabels, <component>.podLabels), without the keys the chart sets
itself and without any genome.mathison.io/ key (genome.mathison.io/trusted-keys on a Secret
makes it a trust Secret): those stay the chart's.
*/}}
{{- define "go.extraLabels" -}}
{{- $labels := dict -}}
{{- range $key, $value := .labels -}}
{{- if not (or (has $key $.reserved) (hasPrefix "genome.mathison.io/" $key)) -}}{{- $_ := set $labels $key ($value | toString) -}}{{- end -}}
{{- end -}}
{{- if $labels -}}{{- toYaml $labels -}}{{- end -}}
{{- end -}}

{{/*
A pod template's labels: the selector and the component (always the chart's), then
global.commonLabels and the component's podLabels (dict "root" . "component" "webhook" "podLabels" ...).
*/}}
{{- define "go.podLabels" -}}
{{- $reserved := list "app.kubernetes.io/name" "app.kubernetes.io/instance" "app.kubernetes.io/component" -}}
{{- $labels := merge (dict) (.podLabels | default dict) ((.root.Values.global).commonLabels | default dict) -}}
{{ include "go.selector" .root }}
app.kubernetes.io/component: {{ .component }}
{{- with include "go.extraLabels" (dict "labels" $labels "reserved" $reserved) }}
{{ . }}
{{- end }}
{{- end -}}

{{- define "go.selector" -}}
app.kubernetes.io/name: genome-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/*
The product image: [image.registry/]image.repository, then @image.digest when it is set (every
pod, the injected boot check included), else :image.tag.
*/}}
{{- define "go.image" -}}
{{- $name := .Values.image.repository -}}
{{- with .Values.image.registry }}{{ $name = printf "%s/%s" (trimSuffix "/" .) $name }}{{ end -}}
{{- if .Values.image.digest -}}
{{ $name }}@{{ .Values.image.digest }}
{{- else -}}
{{ $name }}:{{ .Values.image.tag }}
{{- end -}}
{{- end -}}

{{/* The pull secrets of the chart's pods: global.imagePullSecrets, then image.pullSecrets. */}}
{{- define "go.imagePullSecrets" -}}
{{- $secrets := concat ((.Values.global).imagePullSecrets | default list) (.Values.image.pullSecrets | default list) | uniq -}}
{{- with $secrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* GENOME_LOG_LEVEL (global.logLevel) as an env entry, for the operator, the webhook and the self-check. */}}
{{- define "go.logLevelEnv" -}}
- name: GENOME_LOG_LEVEL
  value: {{ (.Values.global).logLevel | default "info" | quote }}
{{- end -}}

{{/*
A security context: the chart's defaults (go.podSecurity or go.containerSecurity, as YAML) with
the user's overrides over them. A key the user sets replaces ours, false included; a nested
object (capabilities, seccompProfile, seLinuxOptions) merges one level down, so
capabilities: {add: [NET_BIND_SERVICE]} keeps drop: [ALL]. (dict "defaults" <yaml> "overrides" <map>)
*/}}
{{- define "go.mergeSecurity" -}}
{{- $merged := fromYaml .defaults -}}
{{- range $key, $value := (.overrides | default dict) -}}
{{- $ours := get $merged $key -}}
{{- if and (kindIs "map" $value) (kindIs "map" $ours) -}}
{{- $inner := deepCopy $ours -}}
{{- range $k, $v := $value }}{{ $_ := set $inner $k $v }}{{ end -}}
{{- $_ := set $merged $key $inner -}}
{{- else -}}
{{- $_ := set $merged $key $value -}}
{{- end -}}
{{- end -}}
{{- toYaml $merged -}}
{{- end -}}

{{/*
Entries of a list keyed by name (env, volumes, volumeMounts) the user appends to the chart's:
fails when one of them reuses a name the chart sets (a duplicate, which server-side apply
refuses, or would silently replace ours). (dict "ours" <list> "extra" <list> "value" "webhook.extraEnv")
*/}}
{{- define "go.appendNamed" -}}
{{- $names := list -}}
{{- range .ours }}{{ $names = append $names .name }}{{ end -}}
{{- range .extra -}}
{{- if has .name $names -}}
{{- fail (printf "%s: %q is set by the chart itself; choose another name (or the chart's own value for it)" $.value .name) -}}
{{- end -}}
{{- end -}}
{{- toYaml (concat .ours (.extra | default list)) -}}
{{- end -}}

{{/*
A component's topologySpreadConstraints: the list the user gives (<component>.topologySpreadConstraints,
each without a labelSelector getting the component's pods), or else the chart's one.
(dict "root" . "component" "webhook" "constraints" <list> "default" <yaml list>)
*/}}
{{- define "go.topologySpread" -}}
{{- $selector := dict "matchLabels" (fromYaml (printf "%s\napp.kubernetes.io/component: %s" (include "go.selector" .root) .component)) -}}
{{- $out := list -}}
{{- range .constraints -}}
{{- $c := deepCopy . -}}
{{- if not (hasKey $c "labelSelector") }}{{ $_ := set $c "labelSelector" $selector }}{{ end -}}
{{- $out = append $out $c -}}
{{- end -}}
{{- if $out -}}{{- toYaml $out -}}{{- else -}}{{- .default -}}{{- end -}}
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
{{- include "go.imagePullSecrets" .root }}
{{- with (.root.Values.global).priorityClassName }}
priorityClassName: {{ . }}
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
      {{- include "go.logLevelEnv" .root | nindent 6 }}
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

{{/*
A program's args: Node's flags, the bundle, then the user's extraArgs, which may not name a flag
whose value the chart sets itself (as an environment variable: a flag wins over it, so
--production=false in operator.extraArgs would undo production: true).
(dict "node" <list> "bundle" "/app/x.mjs" "extra" <list> "reserved" <list of flag names> "value" "operator.extraArgs")
*/}}
{{- define "go.args" -}}
{{- range (.extra | default list) -}}
{{- $arg := toString . -}}
{{- $flag := regexReplaceAll "^--?([^=]*)(=.*)?$" $arg "${1}" -}}
{{- if and (hasPrefix "-" $arg) (has $flag $.reserved) -}}
{{- fail (printf "%s: %q sets --%s, which the chart sets from its own values; set that value instead" $.value $arg $flag) -}}
{{- end -}}
{{- end -}}
{{- concat .node (list .bundle) (.extra | default list) | toJson -}}
{{- end -}}
