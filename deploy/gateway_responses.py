"""API Gateway's own answers, in the contract's error shape.

Some requests never reach the Lambda function: an unknown route, a missing
or rejected bearer token, a body over the gateway's limit. GATEWAY_ERRORS is
the one table both gateways answer from: on AWS the GatewayResponses of
infra/api-<stage>.json (deploy.cloudformation) and `after-deploy`
(deploy.after_deploy); locally devstack.gateway's ContractGateway.
"""
import json

from chalicelib.web.errors import error_body

# API Gateway response type -> (status, contract code, message)
GATEWAY_ERRORS = {
    "UNAUTHORIZED": (401, "unauthorized", "A valid bearer token is required."),
    "MISSING_AUTHENTICATION_TOKEN": (404, "not_found", "No such route or method."),
    "ACCESS_DENIED": (403, "forbidden", "Access denied."),
    "REQUEST_TOO_LARGE": (413, "payload_too_large", "The request is too large."),
    "AUTHORIZER_FAILURE": (500, "internal_error", "An internal error occurred."),
    # The stage's throttling (deploy.api_stage): without its own entry it
    # would be a DEFAULT_4XX, whose status (400) replaces the 429.
    "THROTTLED": (429, "too_many_requests", "Too many requests: slow down and retry."),
    "DEFAULT_4XX": (400, "invalid_request", "The request was rejected."),
    "DEFAULT_5XX": (500, "internal_error", "An internal error occurred."),
}


def gateway_response(response_type: str) -> dict:
    """The answer as a Lambda proxy response (what the local gateway sends)."""
    status, code, message = GATEWAY_ERRORS[response_type]
    headers = {"Content-Type": "application/json"}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if status == 429:  # the stage's limits are per second: a second's wait lets the next through
        headers["Retry-After"] = "1"
    return {"statusCode": status, "headers": headers, "multiValueHeaders": {},
            "body": json.dumps(error_body(code, message))}


def gateway_responses() -> dict[str, dict]:
    """API Gateway's own error answers in API Gateway's terms (what
    put_gateway_response takes), from the very responses the local gateway
    sends: same status, body and headers."""
    responses = {}
    for response_type in GATEWAY_ERRORS:
        local = gateway_response(response_type)
        headers = dict(local["headers"])
        media_type = headers.pop("Content-Type")  # API Gateway sets it from the template
        responses[response_type] = {
            "statusCode": str(local["statusCode"]),
            "responseParameters": {f"gatewayresponse.header.{name}": f"'{value}'"
                                   for name, value in headers.items()},
            "responseTemplates": {media_type: local["body"]},
        }
    return responses
