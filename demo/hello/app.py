"""The seed's demo application: what users of the API see.

Release a new version by changing MESSAGE (to "Hello From Green Deployment", say)
and running `sam deploy`: SAM publishes a version, and lambda-rollout moves the
`live` alias's traffic to it step by step.
"""

MESSAGE = "Hello From Blue Deployment"


def lambda_handler(event, context):
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "text/plain"},
        "body": MESSAGE,
    }
