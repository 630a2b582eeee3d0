"""A persistent dev chain for the payout crash test: eth-tester / py-evm behind a small
JSON-RPC server on 127.0.0.1, in a process of its own so that it outlives the service
processes the test kills. It mines a block every 100 ms (confirmations come as on a real
chain), deploys the DevToken from the payer (eth-tester's first account, key 0x…01) and
prints `<port> <chain id> <token address>` once ready.

JSON-RPC is what web3's HTTPProvider expects: eth-tester's answers converted to the wire
format (camelCase keys, hex quantities), and its exceptions as JSON-RPC errors with their
message ("Invalid transaction nonce: Expected 3, but got 2", as a node says "nonce too
low"). One extra method for the test: `test_tokenTransfers`, every Transfer log of the token.
`eth_getLogs` goes through web3 (the provider alone does not take the wire's filter form).
"""
from __future__ import annotations

import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from app.payouts import dev_token
from app.payouts.chain import DEV_PAYER_KEY, DEV_TOKEN_SUPPLY, libs

LOCK = threading.Lock()
_SNAKE = re.compile(r"_([a-z])")


def wire(value):
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return hex(value)
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, dict):
        return {_SNAKE.sub(lambda m: m.group(1).upper(), k): wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [wire(v) for v in value]
    return value


def logs_filter(params: dict) -> dict:
    """An eth_getLogs filter from the wire (hex block numbers) as web3 takes it."""
    found = dict(params)
    for name in ("fromBlock", "toBlock"):
        if isinstance(found.get(name), str) and found[name].startswith("0x"):
            found[name] = int(found[name], 16)
    return found


def main() -> None:
    lib = libs()
    provider = lib.EthereumTesterProvider()
    w3 = lib.Web3(provider)
    payer = lib.Account.from_key(DEV_PAYER_KEY)
    data = dev_token.BYTECODE.removeprefix("0x") + lib.encode(dev_token.CONSTRUCTOR_TYPES,
                                                             ["Dev USD", "DUSD", 6, DEV_TOKEN_SUPPLY]).hex()
    signed = payer.sign_transaction({"type": 2, "chainId": w3.eth.chain_id, "nonce": 0, "value": 0,
                                     "data": "0x" + data, "gas": 2_000_000, "maxFeePerGas": 10**11,
                                     "maxPriorityFeePerGas": 10**9})
    token = w3.eth.get_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction)).contractAddress

    def transfers() -> list:
        logs = w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest", "address": token,
                                "topics": [dev_token.TRANSFER_TOPIC]})
        return [{"tx_hash": "0x" + bytes(log["transactionHash"]).hex(),
                 "from": "0x" + bytes(log["topics"][1])[-20:].hex(), "to": "0x" + bytes(log["topics"][2])[-20:].hex(),
                 "value": str(int.from_bytes(bytes(log["data"]), "big"))} for log in logs]

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            answer = {"jsonrpc": "2.0", "id": request.get("id")}
            with LOCK:
                try:
                    if request["method"] == "test_tokenTransfers":
                        answer["result"] = transfers()
                    elif request["method"] == "eth_getLogs":  # the provider wants web3's own filter form
                        answer["result"] = wire([dict(entry) for entry in w3.eth.get_logs(logs_filter(
                            request["params"][0]))])
                    else:
                        found = provider.make_request(request["method"], request.get("params") or [])
                        if "error" in found:
                            answer["error"] = found["error"]
                        else:
                            answer["result"] = wire(found.get("result"))
                except Exception as exc:  # noqa: BLE001 - a node answers errors as JSON-RPC errors
                    answer["error"] = {"code": -32000, "message": str(exc)}
            body = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    def mine() -> None:
        while True:
            time.sleep(0.1)
            with LOCK:
                provider.ethereum_tester.mine_blocks(1)
    threading.Thread(target=mine, daemon=True).start()
    print(server.server_address[1], w3.eth.chain_id, token, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
