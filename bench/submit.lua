-- wrk script for the submit path: the spec's worked example, with the mock's development key.
wrk.method = "POST"
wrk.body = '{"prompt": "A cat surfing in sunset, cinematic", "model": "veo3"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-mock-dev"
