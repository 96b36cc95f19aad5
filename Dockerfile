# The lab in a box: the namespace backend inside one privileged container, for Docker Desktop
# on macOS and Windows, and for any Linux with Docker.
#
#   npm ci && npm run build                       # once: the image copies the built CLI
#   docker build -t tcpdump-mystery-box .
#   docker run --rm -it --privileged -p 3000:3000 tcpdump-mystery-box
#
# gives a shell with mystery, tcpdump and ip, the default case started, and the site on the
# machine's localhost:3000 (another case: `... tcpdump-mystery-box mystery start CASE`).
# BASE_IMAGE is any Node 20 Debian image; where the base lacks the tools, they come from
# Debian's packages. On a machine without Docker Hub, .ci/box-image.sh builds a base from the
# machine's own node and tools and builds this on it.
ARG BASE_IMAGE=node:20-bookworm-slim
FROM ${BASE_IMAGE}

RUN if command -v tcpdump && command -v ip && command -v iptables && command -v nsenter && command -v ps; then \
      echo "the base image has the lab's tools"; \
    else \
      apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        tcpdump iproute2 iptables procps util-linux curl less && rm -rf /var/lib/apt/lists/*; \
    fi

WORKDIR /opt/tcpdump-mystery
COPY package.json README.md LICENSE docker-compose.yml ./
COPY node_modules/commander ./node_modules/commander
COPY dist/src ./dist/src
COPY docs ./docs
COPY docker/box ./docker/box
RUN ln -sf /opt/tcpdump-mystery/dist/src/cli/main.js /usr/local/bin/mystery \
 && ln -sf /opt/tcpdump-mystery/dist/src/cli/main.js /usr/local/bin/tcpdump-mystery \
 && if ! command -v sudo >/dev/null; then ln -s /opt/tcpdump-mystery/docker/box/sudo /usr/local/bin/sudo; fi \
 && mkdir -p /usr/local/sbin && ln -sf /opt/tcpdump-mystery/docker/box/npx /usr/local/sbin/npx \
 && mystery --version

WORKDIR /root
EXPOSE 3000
ENTRYPOINT ["/opt/tcpdump-mystery/docker/box/entry.sh"]
CMD ["bash", "-l"]
