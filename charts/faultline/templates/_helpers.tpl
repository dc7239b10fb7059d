{{/* The prefix of every object's name: the release name, so that drills can name Services predictably. */}}
{{- define "faultline.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- end }}

{{- define "faultline.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end }}

{{/* Selector labels of one part: call with (dict "ctx" $ "name" "gateway"). The chaos driver selects pods by these. */}}
{{- define "faultline.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- end }}

{{/* Labels of one part: call with (dict "ctx" $ "name" "gateway" "component" "shop"). */}}
{{- define "faultline.labels" -}}
helm.sh/chart: {{ include "faultline.chart" .ctx }}
{{ include "faultline.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/part-of: faultline
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- end }}

{{/* The ServiceAccounts' names: serviceAccount.name of the part, or <fullname>-<part>. */}}
{{- define "faultline.chaosServiceAccount" -}}
{{- default (printf "%s-chaos-controller" (include "faultline.fullname" .)) .Values.chaos.serviceAccount.name -}}
{{- end }}
{{- define "faultline.prometheusServiceAccount" -}}
{{- default (printf "%s-prometheus" (include "faultline.fullname" .)) .Values.prometheus.serviceAccount.name -}}
{{- end }}

{{/* The Secret with the API keys: the chart's own, or existingApiKeysSecret. */}}
{{- define "faultline.apiKeysSecret" -}}
{{- default (printf "%s-api-keys" (include "faultline.fullname" .)) .Values.existingApiKeysSecret -}}
{{- end }}

{{/* The Secret with Grafana's admin password: the chart's own, or grafana.existingSecret. */}}
{{- define "faultline.grafanaSecret" -}}
{{- default (printf "%s-grafana" (include "faultline.fullname" .)) .Values.grafana.existingSecret -}}
{{- end }}

{{/* An image of the shop's own: call with (dict "ctx" $ "name" "gateway"); image.registry, else global.imageRegistry;
pinned by image.digests.<name> when given. */}}
{{- define "faultline.image" -}}
{{- $img := .ctx.Values.image -}}
{{- with (default .ctx.Values.global.imageRegistry $img.registry) }}{{ . }}/{{ end }}{{ $img.repository }}/{{ .name }}:{{ default .ctx.Chart.AppVersion $img.tag }}{{ with (index ($img.digests | default dict) .name) }}@{{ . }}{{ end }}
{{- end }}

{{/* Pods run as a non-root user with the runtime's default seccomp profile; with global.openshift, without fixed ids,
which OpenShift's restricted SCC refuses and assigns itself. Call with (dict "ctx" $ "uid" 999). */}}
{{- define "faultline.podSecurityContext" -}}
runAsNonRoot: true
{{- if not .ctx.Values.global.openshift }}
runAsUser: {{ .uid | default 1000 }}
runAsGroup: {{ .uid | default 1000 }}
fsGroup: {{ .uid | default 1000 }}
{{- end }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "faultline.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end }}

{{/* In-cluster addresses, shared by the services, the collector and the controller. */}}
{{- define "faultline.redisUrl" -}}
redis://{{ include "faultline.fullname" . }}-redis:6379
{{- end }}

{{- define "faultline.kafkaBrokers" -}}
{{ include "faultline.fullname" . }}-kafka:9092
{{- end }}

{{- define "faultline.serviceUrl" -}}
http://{{ include "faultline.fullname" .ctx }}-{{ .name }}:8080
{{- end }}

{{/* Where traces go: the explicit endpoint, else the bundled collector, else nowhere. */}}
{{- define "faultline.otlpEndpoint" -}}
{{- if .Values.observability.otlpEndpoint -}}
{{ .Values.observability.otlpEndpoint }}
{{- else if .Values.otelCollector.enabled -}}
http://{{ include "faultline.fullname" . }}-otel-collector:4318
{{- end -}}
{{- end }}

{{/* API keys as the gateway's API_KEYS value: given ones, else the ones already in the Secret, else new random ones. */}}
{{- define "faultline.apiKeys" -}}
{{- if .Values.apiKeys -}}
{{- $pairs := list -}}
{{- range $name, $key := .Values.apiKeys }}{{ $pairs = append $pairs (printf "%s:%s" $name $key) }}{{ end -}}
{{- join "," $pairs -}}
{{- else -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (printf "%s-api-keys" (include "faultline.fullname" .)) -}}
{{- if and $existing (index $existing.data "API_KEYS") -}}
{{- index $existing.data "API_KEYS" | b64dec -}}
{{- else -}}
{{- printf "local:%s,load:%s" (randAlphaNum 32) (randAlphaNum 32) -}}
{{- end -}}
{{- end -}}
{{- end }}

{{/* A fixed Prometheus scrape annotation set: the bundled Prometheus discovers pods by these. */}}
{{- define "faultline.scrapeAnnotations" -}}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: /metrics
{{- end }}

{{/* The chaos controller's rules: pods to kill, NetworkPolicies for partitions, Jobs and ConfigMaps for k6 floods. */}}
{{- define "faultline.chaosRules" -}}
- apiGroups: [""]
  resources: [configmaps]
  verbs: [create, delete, list]
- apiGroups: [""]
  resources: [pods]
  verbs: [delete, list]
- apiGroups: [batch]
  resources: [jobs]
  verbs: [create, delete, list]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [create, delete, list, update]
{{- end }}

{{/* Whoever runs whole drills from outside the cluster: the fault rules, and what probes, loads and the ledger reach
through the API server. Exactly what chaos/src/platforms/kubernetes/rbac.ts's drillRunnerRules lists; a chart test
compares the two. */}}
{{- define "faultline.drillRunnerRules" -}}
{{ include "faultline.chaosRules" . }}
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get]
  resourceNames: [{{ include "faultline.fullname" . }}-drill-settings]
- apiGroups: [""]
  resources: [pods/log]
  verbs: [get]
- apiGroups: [""]
  resources: [pods/portforward]
  verbs: [create, get]
- apiGroups: [""]
  resources: [pods/proxy]
  verbs: [get, patch]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
  resourceNames: [{{ include "faultline.apiKeysSecret" . }}]
- apiGroups: [""]
  resources: [services]
  verbs: [get]
- apiGroups: [""]
  resources: [services/proxy]
  verbs: [create, get]
{{- end }}

{{/* Prometheus finds annotated pods in this namespace and labels them as the local runtime does (service, instance_name). */}}
{{- define "faultline.prometheusConfig" -}}
global:
  scrape_interval: {{ .Values.prometheus.scrapeInterval }}
  evaluation_interval: {{ .Values.prometheus.scrapeInterval }}
rule_files:
  - /etc/prometheus/*.rules.yaml
scrape_configs:
  - job_name: faultline
    # The services label their own series (service, replica) and the controller its faults' namespace: theirs win,
    # rather than becoming exported_service and exported_namespace.
    honor_labels: true
    kubernetes_sd_configs:
      - role: pod
        namespaces:
          names: [{{ .Release.Namespace }}]
    relabel_configs:
      - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
        regex: "true"
        action: keep
      - source_labels: [__meta_kubernetes_pod_phase]
        regex: Running
        action: keep
      # The pod's IP and the annotated port, an IPv6 address in brackets (as the prometheus-community chart does).
      - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_port, __meta_kubernetes_pod_ip]
        regex: (\d+);(([A-Fa-f0-9]{1,4}::?){1,7}[A-Fa-f0-9]{1,4})
        replacement: "[$2]:$1"
        target_label: __address__
      - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_port, __meta_kubernetes_pod_ip]
        regex: (\d+);((([0-9]+?)(\.|$)){4})
        replacement: $2:$1
        target_label: __address__
      - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_path]
        regex: (.+)
        target_label: __metrics_path__
      - source_labels: [__meta_kubernetes_pod_label_app_kubernetes_io_name]
        target_label: service
      - source_labels: [__meta_kubernetes_pod_name]
        target_label: instance_name
      - source_labels: [__meta_kubernetes_namespace]
        target_label: namespace
  - job_name: prometheus
    static_configs:
      - targets: [localhost:9090]
{{- end }}

{{/* The collector batches the services' spans and forwards them to Jaeger (or drops them when Jaeger is off). */}}
{{- define "faultline.otelCollectorConfig" -}}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 0.0.0.0:4317
      http:
        endpoint: 0.0.0.0:4318
processors:
  memory_limiter:
    check_interval: 1s
    limit_percentage: 80
    spike_limit_percentage: 20
  batch:
    timeout: 1s
exporters:
  {{- if .Values.jaeger.enabled }}
  otlp/jaeger:
    endpoint: {{ include "faultline.fullname" . }}-jaeger:4317
    tls:
      insecure: true
  {{- else }}
  nop: {}
  {{- end }}
extensions:
  health_check:
    endpoint: 0.0.0.0:13133
service:
  extensions: [health_check]
  telemetry:
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: 0.0.0.0
                port: 8888
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [{{ if .Values.jaeger.enabled }}otlp/jaeger{{ else }}nop{{ end }}]
{{- end }}

{{/* The helm test's checks as JSON: [name, url, headers]; $(API_KEY) is expanded by the kubelet. */}}
{{- define "faultline.testChecks" -}}
{{- $f := include "faultline.fullname" . -}}
{{- $checks := list (list "gateway menu" (printf "http://%s-gateway:8080/api/menu" $f) (dict "x-api-key" "$(API_KEY)")) -}}
{{- range $name := list "catalog" "orders" "kitchen" }}{{ $checks = append $checks (list (printf "%s ready" $name) (printf "http://%s-%s:8080/readyz" $f $name) dict) }}{{ end -}}
{{- if .Values.prometheus.enabled }}{{ $checks = append $checks (list "prometheus" (printf "http://%s-prometheus:9090/-/ready" $f) dict) }}{{ end -}}
{{- if .Values.grafana.enabled }}{{ $checks = append $checks (list "grafana" (printf "http://%s-grafana:3000/api/health" $f) dict) }}{{ end -}}
{{- if .Values.jaeger.enabled }}{{ $checks = append $checks (list "jaeger" (printf "http://%s-jaeger:16686/" $f) dict) }}{{ end -}}
{{- if .Values.chaos.enabled }}{{ $checks = append $checks (list "chaos controller" (printf "http://%s-chaos-controller:9470/readyz" $f) dict) }}{{ end -}}
{{- toJson $checks -}}
{{- end }}

{{/*
Where a part's pods run, and what they pull with: call with (dict "ctx" $ "v" <the part's values>). global.imagePullSecrets
on every pod; nodeSelector, tolerations, affinity, priorityClassName and topologySpreadConstraints from the part.
*/}}
{{- define "faultline.podScheduling" -}}
{{- with .ctx.Values.global.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ if kindIs "string" . }}{{ . }}{{ else }}{{ .name }}{{ end }}
  {{- end }}
{{- end }}
{{- with .v.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .v.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .v.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .v.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .v.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
A third-party image (Redis, Kafka, Prometheus, Grafana, the Collector, Jaeger, k6) with global.imageRegistry in place of
its registry: call with (dict "ctx" $ "image" "prom/prometheus:v2.53.5").
*/}}
{{- define "faultline.thirdPartyImage" -}}
{{- $registry := .ctx.Values.global.imageRegistry -}}
{{- if not $registry }}{{ .image }}
{{- else -}}
{{- $parts := splitList "/" .image -}}
{{- $first := first $parts -}}
{{- $path := ternary (rest $parts | join "/") .image (and (gt (len $parts) 1) (or (contains "." $first) (contains ":" $first) (eq "localhost" $first))) -}}
{{- printf "%s/%s" $registry $path -}}
{{- end -}}
{{- end }}

{{/*
Refuses, before anything is applied, a change Kubernetes would refuse halfway through an upgrade: a StatefulSet's
volumeClaimTemplates cannot be edited, so persistence (on or off), its size and its storage class are fixed once the
release is installed. Call with (dict "ctx" $ "statefulSet" <name> "values" "redis.persistence" "persistence" $v.persistence).
Under `helm template` (no cluster) lookup finds nothing and nothing is checked.
*/}}
{{- define "faultline.refuseStorageChange" -}}
{{- $sts := lookup "apps/v1" "StatefulSet" .ctx.Release.Namespace .statefulSet -}}
{{- if $sts -}}
{{- $was := "off" -}}
{{- with $sts.spec.volumeClaimTemplates -}}
{{- $claim := (first .).spec -}}
{{- $was = printf "on, %s%s" $claim.resources.requests.storage (ternary "" (printf ", class %s" $claim.storageClassName) (empty $claim.storageClassName)) -}}
{{- end -}}
{{- $p := .persistence -}}
{{- $now := ternary (printf "on, %s%s" $p.size (ternary "" (printf ", class %s" $p.storageClassName) (empty $p.storageClassName))) "off" $p.enabled -}}
{{- if ne $was $now -}}
{{- fail (printf "%s cannot change on an installed release: StatefulSet %s has persistence %s, and the values ask for %s. Kubernetes forbids editing a StatefulSet's volumeClaimTemplates; keep the installed values, or uninstall and install again (the data goes with its volumes)." .values .statefulSet $was $now) -}}
{{- end -}}
{{- end -}}
{{- end }}
