FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY app ./app
COPY migrations ./migrations
COPY templates ./templates
ENV HOST=0.0.0.0 PORT=8080 DATABASE_PATH=/app/data/app.db
VOLUME ["/app/data"]
EXPOSE 8080
CMD ["sh", "-c", "python -m app migrate && exec python -m app serve"]
