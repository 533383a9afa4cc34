// Package composecheck holds tests that load docker-compose.yml, deploy/Dockerfile and deploy/.env.example the
// way Docker Compose does and check how the stack is wired, so a broken deployment fails `make test` on a
// machine without Docker.
package composecheck
