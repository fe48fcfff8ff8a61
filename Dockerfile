# syntax=docker/dockerfile:1
# Vitalwire's container image: a static Go binary on distroless, run as
# a numeric non-root user. docs/DEPLOY.md runs it with deploy/compose.
#
#   docker build --build-arg VERSION=v1.0.0 --build-arg REVISION=$(git rev-parse HEAD) \
#     --build-arg BUILD_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ) -t vitalwire:v1.0.0 .

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=""
ARG REVISION=""
ARG BUILD_DATE=""
ENV IMAGE_ROOT=/image-root
RUN scripts/build-image-root.sh "$IMAGE_ROOT"

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /image-root/usr /usr
COPY --from=build --chown=65532:65532 /image-root/etc/vitalwire /etc/vitalwire
COPY --from=build --chown=65532:65532 /image-root/var/lib/vitalwire /var/lib/vitalwire
COPY --from=build --chown=65532:65532 /image-root/var/lib/vitalwire-audit /var/lib/vitalwire-audit
USER 65532:65532
# HTTPS (API, UI, FHIR) and MQTT over TLS for devices.
EXPOSE 8443 8883
VOLUME ["/var/lib/vitalwire", "/var/lib/vitalwire-audit"]
ENTRYPOINT ["/usr/local/bin/vitalwire"]
CMD ["serve", "--config", "/etc/vitalwire/vitalwire.yaml"]
