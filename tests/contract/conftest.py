import schemathesis
@schemathesis.hook
def after_call(context, case, response):
    if case.operation.path.endswith("/patient") and response.status_code == 400 and case.meta.phase.name.value == "stateful":
        print("BODY", case.body, response.text[:300])
