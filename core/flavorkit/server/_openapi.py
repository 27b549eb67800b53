"""The OpenAPI document of a served model, generated from its signature, and the Swagger UI page.

Each payload form (``dataframe_split``, ``dataframe_records``, ``instances``,
``inputs``) gets its own request schema; the saved serving input example is
the request example. Swagger UI's assets come from the ``swagger-ui-bundle``
package, so ``/docs`` works without internet access.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from flavorkit.signature import AnyType, Array, ColSpec, DataType, Map, Object, Schema, TensorSpec

if TYPE_CHECKING:
    from flavorkit.api._pyfunc import PyFuncModel
    from flavorkit.server._v2 import V2Model

_SCALARS: dict[DataType, dict[str, Any]] = {
    DataType.boolean: {"type": "boolean"},
    DataType.integer: {"type": "integer", "format": "int32"},
    DataType.long: {"type": "integer", "format": "int64"},
    DataType.float: {"type": "number", "format": "float"},
    DataType.double: {"type": "number", "format": "double"},
    DataType.string: {"type": "string"},
    DataType.binary: {"type": "string", "format": "byte", "description": "base64"},
    DataType.datetime: {
        "type": "string",
        "format": "date-time",
        "description": "ISO 8601, no offset",
    },
}
_ERROR = {
    "type": "object",
    "required": ["error_code", "message"],
    "properties": {"error_code": {"type": "string"}, "message": {"type": "string"}},
}


def type_schema(t: Any) -> dict[str, Any]:
    """JSON Schema (OpenAPI 3.0 dialect) of one value of signature type ``t``."""
    if isinstance(t, DataType):
        return dict(_SCALARS[t])
    if isinstance(t, Array):
        return {"type": "array", "items": type_schema(t.dtype)}
    if isinstance(t, Object):
        out: dict[str, Any] = {
            "type": "object",
            "properties": {p.name: type_schema(p.dtype) for p in t.properties},
            "additionalProperties": False,
        }
        required = [p.name for p in t.properties if p.required]
        if required:
            out["required"] = required
        return out
    if isinstance(t, Map):
        return {"type": "object", "additionalProperties": type_schema(t.value_type)}
    if isinstance(t, AnyType):
        return {}
    return {}


def _cell(spec: ColSpec) -> dict[str, Any]:
    schema = type_schema(spec.type)
    if not spec.required:
        schema["nullable"] = True
    return schema


def _tensor_schema(spec: TensorSpec) -> dict[str, Any]:
    """Nested arrays, one level per dimension after the first (the rows)."""
    dtype = spec.type
    kind = dtype.kind
    item: dict[str, Any] = (
        {"type": "boolean"}
        if kind == "b"
        else {"type": "integer"}
        if kind in "iu"
        else {"type": "number"}
        if kind == "f"
        else {"type": "string"}
        if kind in "USM"
        else {}
    )
    for dim in reversed(spec.shape[1:]):
        item = {"type": "array", "items": item}
        if dim != -1:
            item["minItems"] = item["maxItems"] = dim
    return item


def _forms(schema: Schema | None) -> dict[str, dict[str, Any]]:
    """One request body schema per payload form."""
    if schema is None:
        anything: dict[str, Any] = {}
        split = {
            "type": "object",
            "required": ["data"],
            "properties": {
                "columns": {"type": "array", "items": {"type": "string"}},
                "data": {"type": "array", "items": {"type": "array", "items": anything}},
                "index": {"type": "array"},
            },
            "additionalProperties": False,
        }
        records = {"type": "array", "items": {"type": "object"}}
        return {
            "dataframe_split": split,
            "dataframe_records": records,
            "instances": {"type": "array"},
            "inputs": anything,
        }
    if schema.is_tensor_spec():
        if schema.has_input_names():
            columns = {
                str(s.name): {"type": "array", "items": _tensor_schema(s)} for s in schema.inputs
            }
            instance = {
                "type": "object",
                "properties": {str(s.name): _tensor_schema(s) for s in schema.inputs},
                "required": [str(s.name) for s in schema.inputs],
            }
            inputs: dict[str, Any] = {
                "type": "object",
                "properties": columns,
                "required": list(columns),
            }
            instances: dict[str, Any] = {"type": "array", "items": instance}
        else:
            inputs = {"type": "array", "items": _tensor_schema(schema.inputs[0])}
            instances = inputs
        return {"instances": instances, "inputs": inputs}
    specs: list[ColSpec] = list(schema.inputs)  # type: ignore[arg-type]
    named = schema.has_input_names()
    cells = _distinct([_cell(s) for s in specs])
    cell = cells[0] if len(cells) == 1 else {"anyOf": cells}
    split: dict[str, Any] = {
        "type": "object",
        "required": ["columns", "data"] if named else ["data"],
        "properties": {
            "data": {
                "type": "array",
                "items": {"type": "array", "items": cell, "minItems": len(specs)},
            },
            "index": {"type": "array"},
        },
        "additionalProperties": False,
    }
    if named:
        split["properties"]["columns"] = {
            "type": "array",
            "items": {"type": "string", "enum": [str(s.name) for s in specs]},
        }
        record = {
            "type": "object",
            "properties": {str(s.name): _cell(s) for s in specs},
            "required": [str(s.name) for s in specs if s.required],
        }
        columns = {
            "type": "object",
            "properties": {str(s.name): {"type": "array", "items": _cell(s)} for s in specs},
        }
        records = {"type": "array", "items": record}
        return {
            "dataframe_split": split,
            "dataframe_records": records,
            "instances": records,
            "inputs": {"oneOf": [records, columns]},
        }
    rows = {"type": "array", "items": {"type": "array", "items": cell}}
    return {"dataframe_split": split, "instances": rows, "inputs": rows}


def _distinct(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for item in items:
        seen.setdefault(json.dumps(item, sort_keys=True), item)
    return list(seen.values())


def _params_schema(model: PyFuncModel) -> dict[str, Any] | None:
    signature = model.signature
    if signature is None or not signature.params:
        return None
    props = {}
    for p in signature.params:
        one = type_schema(p.dtype)
        if p.shape is not None:
            one = {"type": "array", "items": one}
        if p.default is not None:
            from flavorkit.io import to_jsonable

            one["default"] = to_jsonable(p.default)
        props[p.name] = one
    return {"type": "object", "properties": props, "additionalProperties": False}


def _output_schema(model: PyFuncModel) -> dict[str, Any]:
    signature = model.signature
    outputs = signature.outputs if signature is not None else None
    predictions: dict[str, Any] = {"type": "array"}
    if outputs is not None and not outputs.is_tensor_spec():
        specs = list(outputs.inputs)
        if len(specs) == 1 and specs[0].name is None:
            predictions = {"type": "array", "items": _cell(specs[0])}  # type: ignore[arg-type]
        else:
            predictions = {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        str(s.name if s.name is not None else i): _cell(s)
                        for i, s in enumerate(specs)  # type: ignore[arg-type]
                    },
                },
            }
    return {
        "type": "object",
        "required": ["predictions"],
        "properties": {"predictions": predictions},
    }


def _example(model: PyFuncModel) -> Any:
    from flavorkit.exceptions import FlavorkitError
    from flavorkit.folder._paths import MAX_JSON_BYTES, load_json, model_file, read_text

    info = model.metadata.saved_input_example_info or {}
    relative = info.get("serving_input_path", "serving_input_example.json")
    if not info or not (model.path / relative).exists():
        return None
    try:
        file = model_file(model.path, relative, key="saved_input_example_info.serving_input_path")
        return load_json(read_text(file, limit=MAX_JSON_BYTES), path=file)
    except FlavorkitError:
        return None


def openapi_document(
    model: PyFuncModel, version: str, *, v2: V2Model | None = None, metrics: bool = False
) -> dict[str, Any]:
    """The OpenAPI 3.0 document for ``model``: called once when the server starts.

    With ``v2`` (the model's V2 view) it covers the Open Inference Protocol's
    paths; with ``metrics``, ``GET /metrics``.
    """
    params = _params_schema(model)
    components: dict[str, Any] = {"Error": _ERROR, "Predictions": _output_schema(model)}
    refs = []
    for form, body in _forms(
        model.signature.inputs if model.signature is not None else None
    ).items():
        name = "".join(part.title() for part in form.split("_")) + "Request"
        props: dict[str, Any] = {form: body}
        if params is not None:
            props["params"] = params
        components[name] = {
            "type": "object",
            "required": [form],
            "properties": props,
            "additionalProperties": False,
        }
        refs.append({"$ref": f"#/components/schemas/{name}"})
    json_body: dict[str, Any] = {"schema": {"oneOf": refs}}
    example = _example(model)
    if example is not None:
        json_body["example"] = example

    def error(description: str) -> dict[str, Any]:
        return {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }

    health = {"200": {"description": "the model is loaded and passed its self-test"}}
    document = {
        "openapi": "3.0.3",
        "info": {
            "title": f"flavorkit model server: {model.path.name}",
            "version": version,
            "description": (
                f"Serves the {model.flavor} model at {model.path} "
                "through MLflow's scoring protocol"
                + (
                    f" and the Open Inference Protocol (V2) as model {v2.name!r} "
                    f"version {v2.version!r}."
                    if v2 is not None
                    else "."
                )
            ),
        },
        "paths": {
            "/invocations": {
                "post": {
                    "summary": "Predict",
                    "operationId": "invocations",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": json_body,
                            "text/csv": {
                                "schema": {"type": "string", "description": "CSV with a header row"}
                            },
                            "application/vnd.apache.parquet": {
                                "schema": {"type": "string", "format": "binary"}
                            },
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "predictions",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Predictions"}
                                }
                            },
                        },
                        "400": error("malformed body, or data that does not match the signature"),
                        "413": error("body over the server's size limit"),
                        "415": error("unsupported content type"),
                        "500": error("the model failed to predict"),
                    },
                }
            },
            "/ping": {"get": {"summary": "Liveness", "operationId": "ping", "responses": health}},
            "/health": {
                "get": {"summary": "Liveness", "operationId": "health", "responses": health}
            },
            "/version": {
                "get": {
                    "summary": "flavorkit version",
                    "operationId": "version",
                    "responses": {"200": {"description": "the version string"}},
                }
            },
            "/model": {
                "get": {
                    "summary": "The model served",
                    "description": (
                        "The URI asked for, the local folder, the flavor, and for a "
                        "models:/ URI the registered name, version and aliases it resolved to "
                        "when the server started"
                    ),
                    "operationId": "model",
                    "responses": {"200": {"description": "a JSON object"}},
                }
            },
        },
        "components": {"schemas": components},
    }
    paths: dict[str, Any] = document["paths"]
    if metrics:
        paths["/metrics"] = {
            "get": {
                "summary": "Prometheus metrics",
                "description": (
                    "Requests by endpoint and status, latency histograms, micro-batch sizes, "
                    "queue and predict times, model load time, in Prometheus's text format"
                ),
                "operationId": "metrics",
                "responses": {
                    "200": {
                        "description": "the metrics",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        }
    if v2 is not None:
        paths.update(_v2_paths(model, v2))
        components.update(_v2_components(model, v2))
    return document


# -- the Open Inference Protocol (V2) ---------------------------------------------------

_V2_DATATYPES = ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32"]
_V2_DATATYPES += ["INT64", "FP16", "FP32", "FP64", "BYTES"]


def _v2_ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _v2_components(model: PyFuncModel, v2: V2Model) -> dict[str, Any]:
    from flavorkit.server._v2 import INPUT_CONTENT_TYPES, REQUEST_CONTENT_TYPES

    names = [i.name for i in v2.inputs]
    name_schema: dict[str, Any] = {"type": "string"}
    if names:
        name_schema["example"] = names[0]
    tensor_parameters = {
        "type": "object",
        "properties": {"content_type": {"type": "string", "enum": list(INPUT_CONTENT_TYPES)}},
    }
    request_parameters: dict[str, Any] = {
        "type": "object",
        "description": "content_type, and the model's params",
        "properties": {"content_type": {"type": "string", "enum": list(REQUEST_CONTENT_TYPES)}},
    }
    params = _params_schema(model)
    if params is not None:
        request_parameters["properties"].update(params["properties"])
    tensor = {
        "type": "object",
        "required": ["name", "shape", "datatype", "data"],
        "properties": {
            "name": name_schema,
            "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
            "datatype": {"type": "string", "enum": _V2_DATATYPES},
            "data": {"type": "array", "description": "the elements, flat, in row-major order"},
            "parameters": tensor_parameters,
        },
    }
    request: dict[str, Any] = {
        "type": "object",
        "required": ["inputs"],
        "properties": {
            "id": {"type": "string"},
            "parameters": request_parameters,
            "inputs": {"type": "array", "items": _v2_ref("V2RequestInput"), "minItems": 1},
            "outputs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {"name": {"type": "string"}, "parameters": {"type": "object"}},
                },
            },
        },
    }
    output = {
        "type": "object",
        "required": ["name", "shape", "datatype", "data"],
        "properties": {
            "name": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer"}},
            "datatype": {"type": "string", "enum": _V2_DATATYPES},
            "data": {"type": "array"},
            "parameters": {"type": "object"},
        },
    }
    metadata_tensor = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "datatype": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer"}},
            "parameters": {"type": "object"},
        },
    }
    return {
        "V2Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"type": "string"}},
        },
        "V2RequestInput": tensor,
        "V2InferenceRequest": request,
        "V2InferenceResponse": {
            "type": "object",
            "required": ["model_name", "outputs"],
            "properties": {
                "model_name": {"type": "string"},
                "model_version": {"type": "string"},
                "id": {"type": "string"},
                "outputs": {"type": "array", "items": output},
            },
        },
        "V2ModelMetadata": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "versions": {"type": "array", "items": {"type": "string"}},
                "platform": {"type": "string"},
                "inputs": {"type": "array", "items": metadata_tensor},
                "outputs": {"type": "array", "items": metadata_tensor},
                "parameters": {"type": "object"},
            },
        },
        "V2ServerMetadata": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "version": {"type": "string"},
                "extensions": {"type": "array", "items": {"type": "string"}},
            },
        },
    }


def _v2_paths(model: PyFuncModel, v2: V2Model) -> dict[str, Any]:
    from flavorkit.server._v2 import example_request

    def json_answer(description: str, schema: str) -> dict[str, Any]:
        return {
            "description": description,
            "content": {"application/json": {"schema": _v2_ref(schema)}},
        }

    def error(description: str) -> dict[str, Any]:
        return json_answer(description, "V2Error")

    def op(summary: str, op_id: str, responses: dict[str, Any], **more: Any) -> dict[str, Any]:
        return {
            "summary": summary,
            "operationId": op_id,
            "tags": ["V2"],
            "responses": responses,
            **more,
        }

    name_param = {
        "name": "model_name",
        "in": "path",
        "required": True,
        "description": "the served model's name",
        "schema": {"type": "string", "default": v2.name, "enum": [v2.name]},
    }
    version_param = {
        "name": "version",
        "in": "path",
        "required": True,
        "description": "the served model's version",
        "schema": {"type": "string", "default": v2.version, "enum": [v2.version]},
    }
    unknown = error("no such model or version here")
    ok = {"200": {"description": "yes (an empty body)"}}
    body: dict[str, Any] = {"schema": _v2_ref("V2InferenceRequest")}
    example = example_request(model, v2)
    if example is not None:
        body["example"] = example
    infer_responses = {
        "200": json_answer("the outputs", "V2InferenceResponse"),
        "400": error("malformed request, or data that does not match the signature"),
        "404": unknown,
        "413": error("body or request over the server's size limits"),
        "500": error("the model failed to predict"),
    }

    def infer(op_id: str, params: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "post": op(
                "Infer (Open Inference Protocol)",
                op_id,
                infer_responses,
                parameters=params,
                requestBody={"required": True, "content": {"application/json": body}},
            )
        }

    metadata = {
        "200": json_answer("the model's inputs and outputs", "V2ModelMetadata"),
        "404": unknown,
    }
    ready = {**ok, "404": unknown}
    both = [name_param, version_param]
    return {
        "/v2": {
            "get": op(
                "Server metadata",
                "v2_server",
                {"200": json_answer("name, version, extensions", "V2ServerMetadata")},
            )
        },
        "/v2/health/live": {"get": op("Server live", "v2_live", ok)},
        "/v2/health/ready": {"get": op("Server ready", "v2_ready", ok)},
        "/v2/models/{model_name}": {
            "get": op("Model metadata", "v2_model", metadata, parameters=[name_param])
        },
        "/v2/models/{model_name}/versions/{version}": {
            "get": op("Model version metadata", "v2_model_version", metadata, parameters=both)
        },
        "/v2/models/{model_name}/ready": {
            "get": op("Model ready", "v2_model_ready", ready, parameters=[name_param])
        },
        "/v2/models/{model_name}/versions/{version}/ready": {
            "get": op("Model version ready", "v2_model_version_ready", ready, parameters=both)
        },
        "/v2/models/{model_name}/infer": infer("v2_infer", [name_param]),
        "/v2/models/{model_name}/versions/{version}/infer": infer("v2_infer_version", both),
    }


def swagger_assets() -> str:
    """The folder holding Swagger UI's JavaScript and CSS (from ``swagger-ui-bundle``)."""
    import swagger_ui_bundle

    return str(swagger_ui_bundle.swagger_ui_path)


def swagger_html(openapi_url: str = "openapi.json") -> str:
    """The ``/docs`` page: Swagger UI reading ``openapi_url``, its assets under ``/docs/assets``."""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>flavorkit model server</title>
  <link rel="stylesheet" href="docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/assets/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({{url: {json.dumps(openapi_url)}, dom_id: "#swagger-ui"}});
  </script>
</body>
</html>
"""
