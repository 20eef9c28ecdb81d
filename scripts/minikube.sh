#!/usr/bin/env bash
# Todo Cloud on Minikube, from nothing to a smoke-tested release. Safe to re-run: every step is an
# upgrade-or-install, and generated secrets are created once and kept in the cluster (never in git).
#
#   scripts/minikube.sh              start Minikube if needed, install everything, run the smoke test
#   scripts/minikube.sh --smoke      only the smoke test against what is installed
#   scripts/minikube.sh --dry-run    print the commands without running them
#
# Steps: Strimzi, Dapr and KEDA (helm, pinned versions) -> Kafka (infra/kafka) -> Postgres (a small
# StatefulSet in namespace postgres) -> namespace, Secret todo-cloud-secrets, Dapr components
# (infra/dapr/minikube + resiliency + configuration) -> images built inside Minikube
# (`minikube image build`, tag dev) -> the chart with values-minikube.yaml -> smoke test through a
# port-forward: register, create a daily task, complete it, see the next occurrence created by the
# recurrence_due function (scaled from zero by KEDA), check the ScaledObjects exist.
#
# Needs minikube, kubectl, helm, curl, python3 (JSON in the smoke test) and openssl. Versions and
# sizes can be overridden by the environment (see the variables below).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

NAMESPACE="${NAMESPACE:-todo}"
RELEASE="${RELEASE:-todo-cloud}"
TAG="dev" # values-minikube.yaml: global.imageTag
# Strimzi 0.49-0.51 serve the kafka.strimzi.io/v1beta2 API of infra/kafka (1.0 removed it) and Kafka 4.1.x
STRIMZI_VERSION="${STRIMZI_VERSION:-0.50.0}"
DAPR_VERSION="${DAPR_VERSION:-1.16.0}"
KEDA_VERSION="${KEDA_VERSION:-2.17.2}"
POSTGRES_IMAGE="${POSTGRES_IMAGE:-postgres:16-alpine}"
MINIKUBE_CPUS="${MINIKUBE_CPUS:-4}"
MINIKUBE_MEMORY="${MINIKUBE_MEMORY:-8g}"
SMOKE_TIMEOUT="${SMOKE_TIMEOUT:-240}" # seconds for KEDA to wake recurrence_due and the occurrence to appear
LOCAL_PORT="${LOCAL_PORT:-18080}"

DRY_RUN=0
SMOKE_ONLY=0
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY_RUN=1 ;;
    --smoke) SMOKE_ONLY=1 ;;
    -h | --help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "minikube.sh: unknown option $arg (see --help)" >&2; exit 2 ;;
  esac
done

run() { # print, then run unless --dry-run
  printf '+ %s\n' "$*"
  if [ "$DRY_RUN" -eq 1 ]; then return 0; fi
  "$@"
}
apply_stdin() { # apply_stdin DESCRIPTION: kubectl apply of the manifest on stdin (never printed: may hold secrets)
  printf '+ kubectl apply -f -   < %s\n' "$1"
  if [ "$DRY_RUN" -eq 1 ]; then
    cat >/dev/null
    return 0
  fi
  kubectl apply -f -
}
step() { printf '\n== %s\n' "$*"; }
die() { echo "minikube.sh: $*" >&2; exit 1; }
b64() { printf '%s' "$1" | base64 | tr -d '\n'; }
secret_value() { # secret_value NAMESPACE SECRET KEY: a decoded value, empty when absent
  kubectl -n "$1" get secret "$2" -o "jsonpath={.data.$3}" 2>/dev/null | base64 -d 2>/dev/null || true
}

PF_PID=""
cleanup() {
  if [ -n "$PF_PID" ]; then kill "$PF_PID" 2>/dev/null || true; fi
}
trap cleanup EXIT

if [ "$DRY_RUN" -eq 0 ]; then
  for tool in minikube kubectl helm curl python3 openssl; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required (see docs/deploy.md)"
  done
fi

install_platform() {
  step "Minikube"
  if [ "$DRY_RUN" -eq 1 ] || ! minikube status >/dev/null 2>&1; then
    run minikube start --cpus "$MINIKUBE_CPUS" --memory "$MINIKUBE_MEMORY"
  fi
  run minikube addons enable ingress

  step "Strimzi $STRIMZI_VERSION, Dapr $DAPR_VERSION, KEDA $KEDA_VERSION (helm)"
  run helm repo add strimzi https://strimzi.io/charts/ --force-update
  run helm repo add dapr https://dapr.github.io/helm-charts/ --force-update
  run helm repo add kedacore https://kedacore.github.io/charts --force-update
  run helm upgrade --install strimzi-kafka-operator strimzi/strimzi-kafka-operator \
    --namespace kafka --create-namespace --version "$STRIMZI_VERSION" --wait --timeout 10m
  run helm upgrade --install dapr dapr/dapr \
    --namespace dapr-system --create-namespace --version "$DAPR_VERSION" --wait --timeout 10m
  run helm upgrade --install keda kedacore/keda \
    --namespace keda --create-namespace --version "$KEDA_VERSION" --wait --timeout 10m

  step "Kafka (infra/kafka)"
  run kubectl apply -f infra/kafka/kafka.yaml -f infra/kafka/topics.yaml
  run kubectl -n kafka wait kafka/todo-kafka --for=condition=Ready --timeout=15m
}

install_postgres() {
  step "Postgres (namespace postgres)"
  local password="<postgres password>"
  if [ "$DRY_RUN" -eq 0 ]; then
    # created once: a re-run keeps the password the data directory was initialised with
    password="$(secret_value postgres postgres password)"
    if [ -z "$password" ]; then password="$(openssl rand -hex 24)"; fi
  fi
  apply_stdin "Namespace postgres, Secret postgres/postgres, Service and StatefulSet postgres" <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: postgres
---
apiVersion: v1
kind: Secret
metadata:
  name: postgres
  namespace: postgres
type: Opaque
data:
  password: $(b64 "$password")
---
apiVersion: v1
kind: Service
metadata:
  name: postgres
  namespace: postgres
spec:
  selector:
    app: postgres
  ports:
    - name: postgres
      port: 5432
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: postgres
  namespace: postgres
spec:
  serviceName: postgres
  replicas: 1
  selector:
    matchLabels:
      app: postgres
  template:
    metadata:
      labels:
        app: postgres
    spec:
      containers:
        - name: postgres
          image: $POSTGRES_IMAGE
          env:
            - name: POSTGRES_DB
              value: todo
            - name: POSTGRES_USER
              value: todo
            - name: POSTGRES_PASSWORD
              valueFrom:
                secretKeyRef:
                  name: postgres
                  key: password
            - name: PGDATA
              value: /var/lib/postgresql/data/pgdata
          ports:
            - containerPort: 5432
          readinessProbe:
            exec:
              command: ["pg_isready", "-U", "todo", "-d", "todo"]
            periodSeconds: 5
          resources:
            requests:
              cpu: 100m
              memory: 256Mi
            limits:
              cpu: "1"
              memory: 1Gi
          volumeMounts:
            - name: data
              mountPath: /var/lib/postgresql/data
  volumeClaimTemplates:
    - metadata:
        name: data
      spec:
        accessModes: ["ReadWriteOnce"]
        resources:
          requests:
            storage: 5Gi
EOF
  run kubectl -n postgres rollout status statefulset/postgres --timeout=5m
  PG_PASSWORD="$password"
}

install_app_namespace() {
  step "Namespace $NAMESPACE: secrets and Dapr components"
  local jwt database_url
  printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n' "$NAMESPACE" | apply_stdin "Namespace $NAMESPACE"
  jwt="<jwt secret>"
  if [ "$DRY_RUN" -eq 0 ]; then
    # created once: a re-run keeps the signing key (sessions stay valid)
    jwt="$(secret_value "$NAMESPACE" todo-cloud-secrets jwt-secret)"
    if [ -z "$jwt" ]; then jwt="$(openssl rand -hex 32)"; fi
  fi
  database_url="postgresql://todo:${PG_PASSWORD}@postgres.postgres.svc:5432/todo"
  # database-url and jwt-secret for the chart (secretKeys); DATABASE_URL for the Dapr state store
  # component of infra/dapr/minikube (secretKeyRef key DATABASE_URL)
  apply_stdin "Secret $NAMESPACE/todo-cloud-secrets (database-url, DATABASE_URL, jwt-secret)" <<EOF
apiVersion: v1
kind: Secret
metadata:
  name: todo-cloud-secrets
  namespace: $NAMESPACE
type: Opaque
data:
  database-url: $(b64 "$database_url")
  DATABASE_URL: $(b64 "$database_url")
  jwt-secret: $(b64 "$jwt")
EOF
  run kubectl apply -n "$NAMESPACE" -f infra/dapr/minikube/ -f infra/dapr/resiliency.yaml \
    -f infra/dapr/configuration.yaml
}

build_images() {
  step "Images built inside Minikube (tag $TAG)"
  run minikube image build -t "todo-cloud/gateway:$TAG" -f Dockerfile.gateway .
  run minikube image build -t "todo-cloud/functions:$TAG" -f Dockerfile.functions .
  UI_ARGS=()
  if [ -f ui/Dockerfile ]; then
    run minikube image build -t "todo-cloud/ui:$TAG" ui
  else
    echo "minikube.sh: ui/Dockerfile not found: installing without the UI" >&2
    UI_ARGS=(--set ui.enabled=false)
  fi
}

install_chart() {
  step "Helm release $RELEASE in namespace $NAMESPACE"
  run helm upgrade --install "$RELEASE" infra/helm/todo-cloud --namespace "$NAMESPACE" \
    -f infra/helm/todo-cloud/values-minikube.yaml ${UI_ARGS[@]+"${UI_ARGS[@]}"} --wait --timeout 10m
  run kubectl -n "$NAMESPACE" rollout status "deploy/$RELEASE-gateway" --timeout=5m
  run kubectl -n "$NAMESPACE" rollout status "deploy/$RELEASE-api" --timeout=5m
}

json() { # json EXPR: evaluate a Python expression over the JSON document `d` read from stdin
  python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}

smoke_test() {
  step "Smoke test"
  if [ "$DRY_RUN" -eq 1 ]; then
    printf '+ kubectl -n %s port-forward svc/%s-api %s:80 &\n' "$NAMESPACE" "$RELEASE" "$LOCAL_PORT"
    printf '+ curl: POST /api/v1/auth/register, POST /api/v1/tasks (FREQ=DAILY), POST /api/v1/tasks/ID/complete\n'
    printf '+ curl: GET /api/v1/tasks?recurring=true until occurrence 2 of the series appears\n'
    printf '+ kubectl -n %s get scaledobject %s-recurrence-due %s-task-events %s-reminder-fire %s-audit-append\n' \
      "$NAMESPACE" "$RELEASE" "$RELEASE" "$RELEASE" "$RELEASE"
    return 0
  fi
  local base="http://127.0.0.1:$LOCAL_PORT" api email password token task id series deadline next=""
  kubectl -n "$NAMESPACE" port-forward "svc/$RELEASE-api" "$LOCAL_PORT:80" >/dev/null 2>&1 &
  PF_PID=$!
  api="$base/api/v1"
  deadline=$((SECONDS + 60))
  until curl -fsS --max-time 3 "$base/readyz" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || die "the task API did not become ready through the port-forward"
    sleep 2
  done

  email="smoke-$(openssl rand -hex 4)@example.com"
  password="$(openssl rand -hex 12)"
  token="$(curl -fsS --max-time 10 -X POST "$api/auth/register" -H 'content-type: application/json' \
    -d "{\"email\": \"$email\", \"password\": \"$password\", \"timezone\": \"UTC\"}" | json 'd["access_token"]')"
  echo "registered $email"

  task="$(curl -fsS --max-time 10 -X POST "$api/tasks" -H "authorization: Bearer $token" \
    -H 'content-type: application/json' -H "idempotency-key: smoke-$email" \
    -d '{"title": "Smoke test: water the plants", "due_at": "2030-01-07T09:30:00+00:00",
         "recurrence": {"rrule": "FREQ=DAILY", "anchor": "schedule"}}')"
  id="$(printf '%s' "$task" | json 'd["id"]')"
  series="$(printf '%s' "$task" | json 'd["series_id"]')"
  echo "created recurring task $id (next due $(printf '%s' "$task" | json 'd["next_due_at"]'))"

  curl -fsS --max-time 10 -X POST "$api/tasks/$id/complete" -H "authorization: Bearer $token" >/dev/null
  echo "completed it: waiting up to ${SMOKE_TIMEOUT}s for recurrence_due (KEDA wakes it from zero)"

  deadline=$((SECONDS + SMOKE_TIMEOUT))
  while [ -z "$next" ]; do
    [ "$SECONDS" -lt "$deadline" ] || die "no next occurrence after ${SMOKE_TIMEOUT}s: kubectl -n $NAMESPACE get scaledobject,pods"
    sleep 5
    next="$(curl -fsS --max-time 10 "$api/tasks?status=open&recurring=true" -H "authorization: Bearer $token" |
      json "next((t['due_at'] for t in d['items'] if t['series_id'] == '$series' and t['occurrence'] == 2), '')")"
  done
  echo "next occurrence is open, due $next"

  run kubectl -n "$NAMESPACE" get scaledobject "$RELEASE-recurrence-due" "$RELEASE-task-events" \
    "$RELEASE-reminder-fire" "$RELEASE-audit-append"
  echo "smoke test passed"
}

PG_PASSWORD="<postgres password>"
UI_ARGS=()
if [ "$SMOKE_ONLY" -eq 0 ]; then
  install_platform
  install_postgres
  install_app_namespace
  build_images
  install_chart
fi
smoke_test
