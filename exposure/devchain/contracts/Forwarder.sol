// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title Forwarder: produces internal (message-call) ETH transfers for the local development chain.
/// @notice forward() pays several recipients from msg.value, forwardVia() passes msg.value to another
///         Forwarder which then pays the recipients (a call tree of depth 2 below the transaction),
///         forwardThenRevert() pays and then reverts (nothing of it happened), and tryForward()
///         attempts a payment that may fail without failing the transaction (the ETH then stays here).
contract Forwarder {
    error LengthMismatch();
    error ValueMismatch();
    error CallFailed(address to);
    error Reverted();

    event ForwardFailed(address indexed to, uint256 amount);

    receive() external payable {}

    function forward(address payable[] calldata to, uint256[] calldata amounts) public payable {
        if (to.length != amounts.length) revert LengthMismatch();
        uint256 total = 0;
        for (uint256 i = 0; i < to.length; ++i) {
            total += amounts[i];
        }
        if (total != msg.value) revert ValueMismatch();
        for (uint256 i = 0; i < to.length; ++i) {
            (bool ok, ) = to[i].call{value: amounts[i]}("");
            if (!ok) revert CallFailed(to[i]);
        }
    }

    function forwardVia(Forwarder next, address payable[] calldata to, uint256[] calldata amounts)
        external
        payable
    {
        next.forward{value: msg.value}(to, amounts);
    }

    function forwardThenRevert(address payable to) external payable {
        (bool ok, ) = to.call{value: msg.value}("");
        if (!ok) revert CallFailed(to);
        revert Reverted();
    }

    function tryForward(address payable to) external payable returns (bool ok) {
        (ok, ) = to.call{value: msg.value}("");
        if (!ok) emit ForwardFailed(to, msg.value);
    }
}
