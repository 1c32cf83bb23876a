#!/usr/bin/env bash
# `make demo`'s model server, as OpenShift AI would serve one: the InferenceService `granite` in
# namespace NAMESPACE (default models), which the sandbox's KServe stand-in serves with its fake
# OpenAI-compatible model server, behind the API key DEMO_MODEL_KEY. The key is in Secret
# `model-key` there and, labelled so that model-change messages may name it, in the instance's
# namespace INSTANCE_NAMESPACE: a message names the Secret, never the key. Idempotent; waits until
# the model is Ready. The key goes to kubectl on stdin, never on a command line.
# Usage: DEMO_MODEL_KEY=... demo_model_server.sh INSTANCE_NAMESPACE [NAMESPACE]
set -euo pipefail
instance_ns=$1
ns=${2:-models}
: "${DEMO_MODEL_KEY:?set it to the API key of the model server}"

kubectl create namespace "$ns" --dry-run=client -o yaml | kubectl apply -f - >/dev/null
for where in "$ns" "$instance_ns"; do
  kubectl get secret model-key -n "$where" >/dev/null 2>&1 || kubectl create -f - <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: model-key
  namespace: $where
  labels: {litemaas.rhpds.io/allow-message-ref: "true"}
stringData: {token: "$DEMO_MODEL_KEY"}
YAML
done
kubectl get inferenceservice granite -n "$ns" >/dev/null 2>&1 || kubectl create -f - <<YAML
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata: {name: granite, namespace: $ns}
spec:
  predictor:
    model:
      modelFormat: {name: vLLM}
      runtime: vllm-runtime
      env:
        - name: FAKE_UPSTREAM_API_KEY
          valueFrom: {secretKeyRef: {name: model-key, key: token}}
YAML
kubectl wait --for=condition=Ready --timeout=300s -n "$ns" inferenceservice/granite
