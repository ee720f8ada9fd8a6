# loragate with a CUDA build of PyTorch, for machines with an NVIDIA GPU and the NVIDIA
# Container Toolkit. The CUDA runtime comes inside the torch wheel; the driver comes
# from the host through the NVIDIA runtime (see docker-compose.yml).
FROM python:3.11-slim

ARG TORCH_INDEX=https://download.pytorch.org/whl/cu128
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1

RUN apt-get update \
 && apt-get install -y --no-install-recommends git libgl1 libglib2.0-0 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
RUN pip install --index-url "$TORCH_INDEX" torch==2.13.0
COPY pyproject.toml README.md requirements.lock ./
COPY app ./app
# Every package but torch at the version the tests passed with (make lock).
RUN pip install -c requirements.lock -e ".[cuda,captioners,optimizers]"
COPY . .

# The grimoire (studio.md, eye.md, every project) is a volume: it outlives the container.
VOLUME ["/app/grimoire", "/app/data"]
EXPOSE 8765
CMD ["loragate", "serve"]
