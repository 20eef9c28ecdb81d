#!/usr/bin/env bash
# Provision Todo Cloud on Azure and prepare the AKS cluster for the Helm release (cd.yml installs it).
#
#   infra/azure/deploy.sh --dry-run     print every command (az, kubectl, helm) and run none of them
#   infra/azure/deploy.sh --what-if     show what the Bicep deployment would change, then stop
#   infra/azure/deploy.sh               do it; safe to re-run (a second run changes nothing)
#
# Steps (--steps azure,cluster,secrets; default all):
#   azure    resource providers, then main.bicep as a subscription deployment of fixed name: resource
#            group, ACR, AKS (OIDC issuer, workload identity, KEDA add-on, app routing, Dapr extension),
#            Key Vault (RBAC), PostgreSQL flexible server (pg_trgm, btree_gin allow-listed), the app
#            identity federated with the release's ServiceAccount, the GitHub Actions identity federated
#            with the repository's environment, role assignments. Generated secrets (Postgres password,
#            JWT secret, Dapr tokens) are created in Key Vault once and reused by every later run.
#   cluster  kubeconfig, Strimzi operator (helm), Kafka with the AKS overlay (infra/azure/k8s/kafka, or
#            k8s/kafka-1m with --scale 1m: the 1 M-user partitions of docs/scaling.md),
#            the Dapr components of infra/dapr/aks (Key Vault name and app client id filled in),
#            resiliency and configuration, into the release namespace.
#   secrets  the Kafka SCRAM credentials into Key Vault, then the Secrets the chart expects in the
#            release namespace (existingSecret todo-cloud-secrets, dapr-api-token, dapr-app-token,
#            the Kafka CA, the TLS certificate when Key Vault holds one), from Key Vault.
#
# Secret values never appear on a command line: they travel through files created with mode 600 or
# through standard input. Prerequisites: az (logged in), kubectl, helm, openssl.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"

DRY_RUN=0
WHAT_IF=0
RENDER_DAPR=""
STEPS="azure,cluster,secrets"
SCALE="" # suffix of the Kafka overlay: "" (k8s/kafka) or -1m (--scale 1m: values-aks-1m.yaml's partitions)
LOCATION="${AZURE_LOCATION:-westeurope}"
RESOURCE_GROUP="${AKS_RESOURCE_GROUP:-rg-todo-cloud}"
DEPLOYMENT="${DEPLOYMENT_NAME:-todo-cloud}"
NAMESPACE="${NAMESPACE:-todo-cloud}"
SERVICE_ACCOUNT="todo-cloud"
GITHUB_REPO="${GITHUB_REPOSITORY:-}"
GITHUB_ENVIRONMENT="production"
KAFKA_NAMESPACE="kafka"
KAFKA_CLUSTER="todo-kafka"
KAFKA_USER="todo-cloud"
# Strimzi 0.49-0.51 serve the kafka.strimzi.io/v1beta2 API of infra/kafka (1.0 removed it) and Kafka 4.1.x
STRIMZI_VERSION="${STRIMZI_VERSION:-0.50.0}"
STRIMZI_CHART_REPO="${STRIMZI_CHART_REPO:-https://strimzi.io/charts/}"

usage() {
  sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  cat <<EOF

Options:
  --dry-run                 print the commands, run nothing (no Azure login needed)
  --what-if                 run 'az deployment sub what-if' for main.bicep and stop
  --steps LIST              comma-separated subset of azure,cluster,secrets (default: $STEPS)
  --location REGION         Azure region (default: \$AZURE_LOCATION or $LOCATION)
  --resource-group NAME     resource group (default: $RESOURCE_GROUP)
  --namespace NAME          namespace of the Helm release (default: $NAMESPACE; cd.yml uses todo-cloud)
  --github-repo OWNER/NAME  repository whose CD may deploy (default: \$GITHUB_REPOSITORY or git remote origin)
  --github-environment NAME deployment environment of cd.yml (default: $GITHUB_ENVIRONMENT)
  --scale 1m                the 1 M-user tier's topic partitions (infra/azure/k8s/kafka-1m); install
                            the chart with values-aks-1m.yaml too
  --render-dapr VAULT ID    print the AKS Dapr components as the cluster step applies them, and exit
EOF
}

while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY_RUN=1 ;;
    --what-if) WHAT_IF=1 ;;
    --steps) STEPS="$2"; shift ;;
    --location) LOCATION="$2"; shift ;;
    --resource-group) RESOURCE_GROUP="$2"; shift ;;
    --namespace) NAMESPACE="$2"; shift ;;
    --github-repo) GITHUB_REPO="$2"; shift ;;
    --github-environment) GITHUB_ENVIRONMENT="$2"; shift ;;
    --scale)
      case "$2" in
        1m) SCALE="-1m" ;;
        base | "") SCALE="" ;;
        *) echo "deploy.sh: --scale takes 1m or base" >&2; exit 2 ;;
      esac
      shift
      ;;
    --render-dapr) RENDER_DAPR="$2 $3"; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "deploy.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

# -- command runner: the one place where anything is executed ---------------------------------------
# fd 3 is the terminal's stdout, so commands are printed even from inside $(...).
exec 3>&1

show() { # print a command line, quoting what needs it (<placeholders> of --dry-run stay as they are)
  local out="+" arg
  for arg in "$@"; do
    case "$arg" in
      "" | *[!A-Za-z0-9_./:=@,+%{}-]*)
        case "$arg" in
          "<"*">" | "@<"*">") out="$out $arg" ;;
          *) out="$out '$(printf '%s' "$arg" | sed "s/'/'\\\\''/g")'" ;;
        esac
        ;;
      *) out="$out $arg" ;;
    esac
  done
  printf '%s\n' "$out" >&3
}

run() { # show, then run unless --dry-run
  show "$@"
  if [ "$DRY_RUN" -eq 1 ]; then return 0; fi
  "$@"
}

capture() { # capture PLACEHOLDER CMD...: the command's stdout (--dry-run: the placeholder)
  local placeholder="$1"
  shift
  show "$@"
  if [ "$DRY_RUN" -eq 1 ]; then
    printf '%s\n' "$placeholder"
    return 0
  fi
  "$@"
}

pipe_into() { # pipe_into DESCRIPTION CMD...: feed stdin to CMD (secret manifests: never printed)
  local what="$1"
  shift
  show "$@"
  printf '    < %s\n' "$what" >&3
  if [ "$DRY_RUN" -eq 1 ]; then
    cat >/dev/null
    return 0
  fi
  "$@"
}

note() { printf '\n== %s\n' "$*" >&3; }
die() { echo "deploy.sh: $*" >&2; exit 1; }
want() { case ",$STEPS," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

b64() { printf '%s' "$1" | base64 | tr -d '\n'; }

json_escape() { printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g'; }

SECRET_FILE=""
secret_file() { # secret_file VALUE: sets SECRET_FILE to a new mode-600 file holding VALUE (removed on exit)
  SECRET_FILE="$(mktemp "${TMPDIR:-/tmp}/todo-cloud.XXXXXX")"
  chmod 600 "$SECRET_FILE"
  printf '%s' "$1" >"$SECRET_FILE"
  TMP_FILES="$TMP_FILES $SECRET_FILE"
}
TMP_FILES=""
cleanup() {
  local f
  for f in $TMP_FILES; do rm -f "$f"; done
}
trap cleanup EXIT

render_dapr_components() { # the AKS Dapr components with this deployment's Key Vault and identity
  local vault="$1" client_id="$2" f
  for f in "$ROOT"/infra/dapr/aks/*.yaml; do
    printf -- '---\n'
    sed -e "s/\"todo-cloud-kv\"/\"$vault\"/" \
      -e "s/\"00000000-0000-0000-0000-000000000000\"/\"$client_id\"/" \
      -e 's/ # replaced by infra\/azure.*$//' "$f"
  done
}

if [ -n "$RENDER_DAPR" ]; then
  # shellcheck disable=SC2086 # two words: vault name and client id
  render_dapr_components $RENDER_DAPR
  exit 0
fi

# -- preflight ---------------------------------------------------------------------------------------
if [ "$DRY_RUN" -eq 0 ]; then
  for tool in az kubectl helm openssl; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required (see docs/deploy.md)"
  done
fi
if [ -z "$GITHUB_REPO" ] && command -v git >/dev/null 2>&1; then
  origin="$(git -C "$ROOT" remote get-url origin 2>/dev/null || true)"
  case "$origin" in
    *github.com[:/]*) GITHUB_REPO="$(printf '%s' "$origin" | sed -E 's#^.*github\.com[:/]##; s#\.git$##')" ;;
  esac
fi

random_secret() { openssl rand -hex 32; }
# Azure Database for PostgreSQL wants three of: upper, lower, digit, symbol (URL-safe here)
random_password() { printf 'Td-%s' "$(openssl rand -hex 24)"; }

deployment_output() { # deployment_output NAME: an output of the last subscription deployment
  capture "<$1>" az deployment sub show --name "$DEPLOYMENT" --query "properties.outputs.$1.value" -o tsv
}

kv_get() { # kv_get VAULT NAME: a Key Vault secret, empty when it does not exist (other errors stop)
  local value err attempt
  show az keyvault secret show --vault-name "$1" --name "$2" --query value -o tsv
  if [ "$DRY_RUN" -eq 1 ]; then
    printf '<%s>\n' "$2"
    return 0
  fi
  err="$(mktemp "${TMPDIR:-/tmp}/todo-cloud.XXXXXX")"
  TMP_FILES="$TMP_FILES $err"
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    if value="$(az keyvault secret show --vault-name "$1" --name "$2" --query value -o tsv 2>"$err")"; then
      printf '%s\n' "$value"
      return 0
    fi
    if grep -q "SecretNotFound" "$err"; then return 0; fi
    if ! grep -q "Forbidden" "$err"; then break; fi
    echo "deploy.sh: Key Vault refused the read (role assignment still propagating?), retry $attempt/10" >&2
    sleep 30
  done
  cat "$err" >&2
  die "could not read secret $2 from Key Vault $1 (a missing secret would be regenerated: refusing to guess)"
}

kv_set() { # kv_set VAULT NAME VALUE: write through a file; retries while a fresh role assignment propagates
  local file="<file holding $2>" attempt
  if [ "$DRY_RUN" -eq 0 ]; then
    secret_file "$3"
    file="$SECRET_FILE"
  fi
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    if run az keyvault secret set --vault-name "$1" --name "$2" --file "$file" --encoding utf-8 \
      --only-show-errors -o none; then
      return 0
    fi
    echo "deploy.sh: Key Vault refused the write (role assignment still propagating?), retry $attempt/10" >&2
    sleep 30
  done
  die "could not write secret $2 to Key Vault $1"
}

kv_ensure() { # kv_ensure VAULT NAME GENERATOR: create the secret once, keep it afterwards
  local current
  current="$(kv_get "$1" "$2")"
  if [ -z "$current" ]; then
    kv_set "$1" "$2" "$("$3")"
  fi
}

apply_secret() { # apply_secret NAMESPACE NAME TYPE KEY=VALUE...: a Secret through stdin, values never printed
  local ns="$1" name="$2" type="$3" keys="" pair
  shift 3
  for pair in "$@"; do keys="$keys ${pair%%=*}"; done
  {
    printf 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: %s\n' "$name" "$ns"
    printf '  labels:\n    app.kubernetes.io/part-of: todo-cloud\n    app.kubernetes.io/managed-by: infra-azure-deploy\n'
    printf 'type: %s\ndata:\n' "$type"
    for pair in "$@"; do
      printf '  %s: %s\n' "${pair%%=*}" "$(b64 "${pair#*=}")"
    done
  } | pipe_into "Secret $ns/$name, keys:$keys" kubectl apply -f -
}

ensure_namespace() {
  printf 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n' "$1" | pipe_into "Namespace $1" kubectl apply -f -
}


# -- step: azure ---------------------------------------------------------------------------------------
if want azure || [ "$WHAT_IF" -eq 1 ]; then
  note "Azure resources (main.bicep, deployment $DEPLOYMENT, region $LOCATION)"
  subscription="$(capture "<subscription-id>" az account show --query id -o tsv)"
  printf '   subscription %s, GitHub repository %s\n' "$subscription" "${GITHUB_REPO:-<none: no CD identity>}" >&3
  principal_type="$(capture "user" az account show --query user.type -o tsv)"
  if [ "$principal_type" = "servicePrincipal" ]; then
    login="$(capture "<app-id>" az account show --query user.name -o tsv)"
    deployer="$(capture "<deployer-object-id>" az ad sp show --id "$login" --query id -o tsv)"
    deployer_type="ServicePrincipal"
  else
    deployer="$(capture "<deployer-object-id>" az ad signed-in-user show --query id -o tsv)"
    deployer_type="User"
  fi
  for provider in Microsoft.ContainerService Microsoft.ContainerRegistry Microsoft.KeyVault \
    Microsoft.DBforPostgreSQL Microsoft.ManagedIdentity Microsoft.KubernetesConfiguration Microsoft.Network; do
    run az provider register --namespace "$provider" --wait --only-show-errors
  done

  # a re-run reuses the Postgres password kept in Key Vault by the first run
  previous_vault=""
  if [ "$DRY_RUN" -eq 0 ]; then
    show az deployment sub show --name "$DEPLOYMENT" --query properties.outputs.keyVaultName.value -o tsv
    previous_vault="$(az deployment sub show --name "$DEPLOYMENT" --query properties.outputs.keyVaultName.value \
      -o tsv 2>/dev/null || true)" # none on the first run
  else
    previous_vault="$(deployment_output keyVaultName)"
  fi
  pg_password=""
  if [ -n "$previous_vault" ]; then pg_password="$(kv_get "$previous_vault" postgres-admin-password)"; fi
  if [ -z "$pg_password" ]; then pg_password="$(random_password)"; fi

  params="<parameters file: postgresAdminPassword, githubRepository, deployerObjectId, ...>"
  if [ "$DRY_RUN" -eq 0 ]; then
    # shellcheck disable=SC2016 # a literal "$schema" key
    json='{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",'
    json="$json"' "contentVersion": "1.0.0.0", "parameters": {'
    for pair in "location=$LOCATION" "resourceGroupName=$RESOURCE_GROUP" "appNamespace=$NAMESPACE" \
      "appServiceAccount=$SERVICE_ACCOUNT" "githubRepository=$GITHUB_REPO" \
      "githubEnvironment=$GITHUB_ENVIRONMENT" "deployerObjectId=$deployer" \
      "deployerPrincipalType=$deployer_type" "postgresAdminPassword=$pg_password"; do
      json="$json \"${pair%%=*}\": {\"value\": \"$(json_escape "${pair#*=}")\"},"
    done
    secret_file "${json%,} }}"
    params="$SECRET_FILE"
    unset json
  fi

  if [ "$WHAT_IF" -eq 1 ]; then
    run az deployment sub what-if --name "$DEPLOYMENT" --location "$LOCATION" \
      --template-file "$HERE/main.bicep" --parameters "@$params"
    exit 0
  fi
  run az deployment sub create --name "$DEPLOYMENT" --location "$LOCATION" \
    --template-file "$HERE/main.bicep" --parameters "@$params" --only-show-errors -o none

  vault="$(deployment_output keyVaultName)"
  pg_host="$(deployment_output postgresHost)"
  pg_db="$(deployment_output postgresDatabase)"
  pg_user="$(deployment_output postgresAdminLogin)"
  kv_set "$vault" postgres-admin-password "$pg_password"
  kv_set "$vault" database-url "postgresql://$pg_user:$pg_password@$pg_host:5432/$pg_db?sslmode=require"
  kv_ensure "$vault" jwt-secret random_secret
  kv_ensure "$vault" dapr-api-token random_secret
  kv_ensure "$vault" dapr-app-token random_secret
  unset pg_password
fi

# outputs the later steps need (the deployment exists by now, or from an earlier run)
if want cluster || want secrets; then
  note "kubeconfig of the cluster"
  vault="$(deployment_output keyVaultName)"
  aks="$(deployment_output aksName)"
  app_client_id="$(deployment_output appIdentityClientId)"
  rg="$(deployment_output resourceGroup)"
  run az aks get-credentials --resource-group "$rg" --name "$aks" --overwrite-existing --only-show-errors
fi

# -- step: cluster -------------------------------------------------------------------------------------
if want cluster; then
  note "Strimzi $STRIMZI_VERSION and Kafka (infra/kafka with the AKS overlay k8s/kafka$SCALE)"
  ensure_namespace "$KAFKA_NAMESPACE"
  run helm repo add strimzi "$STRIMZI_CHART_REPO" --force-update
  run helm upgrade --install strimzi-kafka-operator strimzi/strimzi-kafka-operator \
    --namespace "$KAFKA_NAMESPACE" --version "$STRIMZI_VERSION" --wait --timeout 10m
  if [ "$DRY_RUN" -eq 1 ]; then
    show kubectl kustomize --load-restrictor LoadRestrictionsNone "$HERE/k8s/kafka$SCALE"
    printf '    | kubectl apply -f -\n' >&3
  else
    show kubectl kustomize --load-restrictor LoadRestrictionsNone "$HERE/k8s/kafka$SCALE" "|" kubectl apply -f -
    kubectl kustomize --load-restrictor LoadRestrictionsNone "$HERE/k8s/kafka$SCALE" | kubectl apply -f -
  fi
  run kubectl -n "$KAFKA_NAMESPACE" wait "kafka/$KAFKA_CLUSTER" --for=condition=Ready --timeout=20m
  run kubectl -n "$KAFKA_NAMESPACE" wait "kafkauser/$KAFKA_USER" --for=condition=Ready --timeout=5m

  note "Dapr components, resiliency and configuration in namespace $NAMESPACE"
  ensure_namespace "$NAMESPACE"
  run kubectl -n dapr-system rollout status deploy/dapr-operator --timeout=10m
  render_dapr_components "$vault" "$app_client_id" |
    pipe_into "infra/dapr/aks/*.yaml (vaultName=$vault, azureClientId=$app_client_id)" \
      kubectl apply -n "$NAMESPACE" -f -
  run kubectl apply -n "$NAMESPACE" -f "$ROOT/infra/dapr/resiliency.yaml" -f "$ROOT/infra/dapr/configuration.yaml"
fi

# -- step: secrets -------------------------------------------------------------------------------------
if want secrets; then
  note "Kafka credentials into Key Vault $vault"
  kafka_password_b64="$(capture "<base64 password>" kubectl -n "$KAFKA_NAMESPACE" get secret "$KAFKA_USER" \
    -o 'jsonpath={.data.password}')"
  kafka_password="<kafka-password>"
  if [ "$DRY_RUN" -eq 0 ]; then kafka_password="$(printf '%s' "$kafka_password_b64" | base64 -d)"; fi
  kv_set "$vault" kafka-username "$KAFKA_USER"
  kv_set "$vault" kafka-password "$kafka_password"

  note "Secrets of the release in namespace $NAMESPACE (from Key Vault $vault)"
  set -- "database-url=$(kv_get "$vault" database-url)" "jwt-secret=$(kv_get "$vault" jwt-secret)" \
    "kafka-username=$KAFKA_USER" "kafka-password=$kafka_password"
  # optional keys, when Key Vault has them: Web Push, the OpenAI key, Application Insights (docs/deploy.md)
  for name in vapid-private-key openai-api-key applicationinsights-connection-string; do
    value="$(kv_get "$vault" "$name")"
    if [ -n "$value" ]; then set -- "$@" "$name=$value"; fi
  done
  apply_secret "$NAMESPACE" todo-cloud-secrets Opaque "$@"
  set --
  unset value
  apply_secret "$NAMESPACE" dapr-api-token Opaque "token=$(kv_get "$vault" dapr-api-token)"
  apply_secret "$NAMESPACE" dapr-app-token Opaque "token=$(kv_get "$vault" dapr-app-token)"

  # Strimzi's cluster CA (renewed by Strimzi: re-run `--steps secrets` after a renewal)
  ca_b64="$(capture "<base64 ca.crt>" kubectl -n "$KAFKA_NAMESPACE" get secret "$KAFKA_CLUSTER-cluster-ca-cert" \
    -o 'jsonpath={.data.ca\.crt}')"
  ca="<ca.crt>"
  if [ "$DRY_RUN" -eq 0 ]; then ca="$(printf '%s' "$ca_b64" | base64 -d)"; fi
  apply_secret "$NAMESPACE" "$KAFKA_CLUSTER-cluster-ca-cert" Opaque "ca.crt=$ca"

  # the Ingress certificate, when Key Vault holds one as PEM (key and chain) under todo-cloud-tls
  pem="$(kv_get "$vault" todo-cloud-tls)"
  if [ -n "$pem" ]; then
    key="$(printf '%s\n' "$pem" | sed -n '/-----BEGIN [A-Z ]*PRIVATE KEY-----/,/-----END [A-Z ]*PRIVATE KEY-----/p')"
    chain="$(printf '%s\n' "$pem" | sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p')"
    apply_secret "$NAMESPACE" todo-cloud-tls kubernetes.io/tls "tls.crt=$chain" "tls.key=$key"
  else
    echo "deploy.sh: no certificate todo-cloud-tls in Key Vault $vault: the Ingress serves the controller's default one" >&2
  fi
fi

note "GitHub Actions variables for cd.yml (environment $GITHUB_ENVIRONMENT)"
if [ "$DRY_RUN" -eq 1 ] || want azure; then
  printf '  AZURE_CLIENT_ID=%s\n' "$(deployment_output githubIdentityClientId)" >&3
  printf '  AZURE_TENANT_ID=%s\n' "$(deployment_output tenantId)" >&3
  printf '  AZURE_SUBSCRIPTION_ID=%s\n' "$(deployment_output subscriptionId)" >&3
  printf '  ACR_NAME=%s\n' "$(deployment_output acrName)" >&3
  printf '  AKS_RESOURCE_GROUP=%s\n' "$(deployment_output resourceGroup)" >&3
  printf '  AKS_CLUSTER=%s\n' "$(deployment_output aksName)" >&3
  printf '  APP_IDENTITY_CLIENT_ID=%s\n' "$(deployment_output appIdentityClientId)" >&3
  printf '  APP_HOST=<the host name your DNS points at the ingress>\n' >&3
  printf '  TODO_CLOUD_SCALE=%s\n' "${SCALE#-}" >&3
fi
note "done"
