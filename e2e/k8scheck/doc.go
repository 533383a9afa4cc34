// Package k8scheck holds tests that render the Kubernetes manifests of deploy/ with kustomize (its Go library,
// as `kubectl apply -k deploy/` does), decode every object strictly into the Kubernetes API types, and check
// them against what the services really read: their variables as the binaries' -h lists them, the ports they
// listen on, their health endpoints. No cluster is needed, so a broken manifest fails `make test`.
package k8scheck
