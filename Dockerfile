# The product image: the webhook, the operator, the genome CLI and the init container's boot
# check, as esbuild bundles on the official Node 24 binary. No shell, no package manager, no
# node_modules; runs as 65532 and writes nothing, so readOnlyRootFilesystem holds.
# Built offline from this file by images/ (docs/adr/0003): images/genome-operator/prepare.sh
# writes build/image (what a RUN would have made) and the builder reads only this subset.

# Stage 1: the Node 24 runtime (the binary and the glibc libraries it links).
FROM scratch AS runtime
COPY build/image/runtime/ /

# Stage 2: the application bundles.
FROM scratch AS app
COPY build/image/app/ /app/

# The image: the runtime with the bundles, as the non-root user.
FROM runtime
COPY --from=app /app/ /app/
ENV NODE_ENV=production
USER 65532:65532
WORKDIR /app
EXPOSE 8443
ENTRYPOINT ["/usr/local/bin/node"]
CMD ["/app/webhook.mjs"]
